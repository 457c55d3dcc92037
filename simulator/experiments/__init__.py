"""Experiments on the model: side-by-side comparisons, parameter sweeps and their
sensitivity report, and validation against the sources' stylized facts.

This package's own namespace stays light (no pandas, matplotlib or the model), so that
the command line checks its input before loading them."""

MIN_REPLICATES = 2  # a comparison's 95% CI needs a standard deviation
