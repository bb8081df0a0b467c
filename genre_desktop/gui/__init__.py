"""The PySide6 window: a thin adapter over :mod:`genre_desktop.core`."""
