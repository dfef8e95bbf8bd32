"""The annotation feature: editing people on the canvas (undo commands, the editor, heatmap
assist and snapping, templates, the Instances and Heatmaps docks, tracks and their timeline)."""
