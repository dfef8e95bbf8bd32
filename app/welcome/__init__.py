"""The welcome feature: the first-run page, its model box and the model-zoo fetch."""
