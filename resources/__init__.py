"""Bundled icons and style sheets (installed as ``genre_desktop_resources``)."""
