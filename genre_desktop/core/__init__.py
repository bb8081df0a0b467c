"""Headless engine: decoding, features, models, inference, training.

Nothing in this package may import Qt (enforced by ``tests/test_architecture.py``
and the import-linter contract in ``pyproject.toml``).
"""
