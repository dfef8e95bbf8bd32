"""Dock widgets around the canvas: the model panel and the heatmap view."""
