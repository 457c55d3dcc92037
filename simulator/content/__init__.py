"""Content: what creators publish each day."""
