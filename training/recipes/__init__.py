"""Reproducible recipes that build the data and weights the product ships (run by maintainers, not at run time)."""
