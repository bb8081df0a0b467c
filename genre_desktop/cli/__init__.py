"""``genre-desktop-cli``: the command line, one module per command group.

:mod:`.program` builds the parser and runs a command; :mod:`.common` holds what every command
shares (model choice, argument types, bad-input error, one-line output), :mod:`.terminal` the
progress bar and the decoder-chatter filter.
"""
from genre_desktop.cli.program import main, run  # noqa: F401 (the entry points)
