"""The interactive app (Solara): the page (app.py), its controls (controls.py) and its charts (charts.py)."""
