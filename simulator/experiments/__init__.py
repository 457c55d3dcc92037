"""Experiments on the model: side-by-side comparisons, parameter sweeps and their
sensitivity report, and validation against the sources' stylized facts."""
