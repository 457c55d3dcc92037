"""The interactive app (Mesa SolaraViz)."""
