"""What only rebuilds the bundled models (``scripts/build_musicnn_model.py`` imports it; the app never does)."""
