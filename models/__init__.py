"""Bundled model folders (installed as the ``genre_desktop_models`` package)."""
