"""The headless core of genre-desktop: no Qt, tested without a screen.

Rooms, by job (import-linter contracts in ``pyproject.toml`` keep them apart):

- ``engine``: what the app runs: decoding, features, bundles and the model registry, the
  networks, the one verdict path (slicer + vote), file and live classification, playback,
  the long-work contract and crash-safe file writes;
- ``training``: what "train on my library" runs: labelled-folder scans, the feature
  cache, splits, heads, augmentation, fine-tuning, evaluation and the use case itself.

``genre_desktop.recipes`` (beside the core) only rebuilds the bundled models.
"""
