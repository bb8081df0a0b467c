"""``python -m genre_desktop.cli``."""
from genre_desktop.cli.program import run

run()
