"""genre-desktop: tell the genre of music, on your desktop."""

__version__ = "0.1.0"
