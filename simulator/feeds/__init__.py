"""Feeds: slot sources, recommendation, ranking policies and the compiled kernels."""
