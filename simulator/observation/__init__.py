"""Observation: what the measurements see of a day (views) and the measurements
themselves. Observation never changes the dynamics."""
