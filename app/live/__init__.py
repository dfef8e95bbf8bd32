"""The live feature: running a model on what is open (worker, pipeline settings, overlays,
playback transport, model panel, batch export of predictions)."""
