"""The app's one short content digest: BLAKE2b of 16 bytes (32 hex characters).

Used wherever a value only needs to tell contents apart (never for security): the
sample of a labelled file's bytes (:mod:`~genre_desktop.core.training.labelled_folders`),
the decoded audio the library fingerprints (:mod:`~genre_desktop.core.library.tags`) and
the tag snapshots a genre write compares (:mod:`~genre_desktop.core.library.tag_write`).
"""
from __future__ import annotations

import hashlib

DIGEST_BYTES = 16


def short_digest(data: bytes = b""):
    """A new hash object of the app's short digest (``update``, ``hexdigest``), fed ``data``."""
    return hashlib.blake2b(data, digest_size=DIGEST_BYTES)
