"""The audience: how users react to impressions, and their relationships with creators."""
