"""What a tag write changed, byte for byte, so that undo can put back exactly what was there.

Before a written copy replaces a file, :func:`record_changes` compares the two: the leading
tag block (ID3v2, FLAC metadata, a RIFF/AIFF header) and the rest are each trimmed to
the bytes that differ, and the original bytes of those spans are kept (at most
:data:`MAX_KEPT` in all; a write that moved more, such as an Ogg file whose pages were
renumbered, keeps none and is undone tag by tag). :func:`restore_bytes` rebuilds the
original from the file as the write left it and those spans, checks the result's SHA-256
against the original's, and puts it back with its modification time.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import BinaryIO, Callable, Optional

import numpy as np

from genre_desktop.core.library.tag_file_copy import TempCopy, check_writable
from genre_desktop.core.library.tags import TagError, open_regular

MAX_KEPT = 16 << 20  # original bytes kept per write, at most
_BLOCK = 1 << 20


def head_size(handle: BinaryIO, size: int) -> int:
    """Bytes of the leading tag block (0 when the format has none this knows)."""
    handle.seek(0)
    head = handle.read(12)
    if head[:3] == b"ID3" and len(head) >= 10:
        length = 0
        for byte in head[6:10]:
            length = (length << 7) | (byte & 0x7F)
        return min(size, 10 + length + (10 if head[5] & 0x10 else 0))
    if head[:4] == b"fLaC":
        pos = 4
        while pos + 4 <= size:
            handle.seek(pos)
            block = handle.read(4)
            pos += 4 + int.from_bytes(block[1:4], "big")
            if block[0] & 0x80:
                return min(pos, size)
        return size
    if head[:4] in (b"RIFF", b"FORM", b"RIFX"):
        return min(12, size)
    return 0


def _same_prefix(a: BinaryIO, a_start: int, b: BinaryIO, b_start: int, limit: int) -> int:
    done = 0
    while done < limit:
        n = min(_BLOCK, limit - done)
        a.seek(a_start + done)
        b.seek(b_start + done)
        x, y = a.read(n), b.read(n)
        if x != y or len(x) < n:
            m = min(len(x), len(y))
            differ = np.flatnonzero(np.frombuffer(x, np.uint8, m) != np.frombuffer(y, np.uint8, m))
            return done + (int(differ[0]) if differ.size else m)
        done += n
    return done


def _same_suffix(a: BinaryIO, a_end: int, b: BinaryIO, b_end: int, limit: int) -> int:
    done = 0
    while done < limit:
        n = min(_BLOCK, limit - done)
        a.seek(a_end - done - n)
        b.seek(b_end - done - n)
        x, y = a.read(n), b.read(n)
        if x != y or len(x) < n:
            m = min(len(x), len(y))
            differ = np.flatnonzero(np.frombuffer(x, np.uint8, m)[::-1] != np.frombuffer(y, np.uint8, m)[::-1])
            return done + (int(differ[0]) if differ.size else m)
        done += n
    return done


def _span(a: BinaryIO, a0: int, a1: int, b: BinaryIO, b0: int, b1: int) -> tuple:
    """The differing span of a[a0:a1] vs b[b0:b1]: (a start, a end, b start, b end)."""
    p = _same_prefix(a, a0, b, b0, min(a1 - a0, b1 - b0))
    s = _same_suffix(a, a1, b, b1, min(a1 - a0, b1 - b0) - p)
    return a0 + p, a1 - s, b0 + p, b1 - s


def sha256_of(handle: BinaryIO) -> str:
    handle.seek(0)
    digest = hashlib.sha256()
    while block := handle.read(_BLOCK):
        digest.update(block)
    return digest.hexdigest()


def record_changes(original: BinaryIO, copy: BinaryIO, st: os.stat_result) -> tuple[dict, bytes]:
    """What undo needs to rebuild ``original`` from ``copy``: (facts, original bytes).

    The facts always hold the original's modification time; ``regions`` (``[[start, end,
    length], ...]`` in the copy) only when the differing bytes fit :data:`MAX_KEPT`.
    """
    facts: dict = {"mtime_ns": st.st_mtime_ns, "atime_ns": st.st_atime_ns, "regions": None}
    size_o, size_n = os.fstat(original.fileno()).st_size, os.fstat(copy.fileno()).st_size
    head_o, head_n = head_size(original, size_o), head_size(copy, size_n)
    if (head_o == 0) != (head_n == 0):
        head_o = head_n = 0
    spans = []
    if head_o or head_n:
        spans.append(_span(original, 0, head_o, copy, 0, head_n))
    spans.append(_span(original, head_o, size_o, copy, head_n, size_n))
    kept = sum(a1 - a0 for a0, a1, _, _ in spans)
    if kept > MAX_KEPT:
        return facts, b""
    blob = bytearray()
    regions = []
    for a0, a1, b0, b1 in spans:
        original.seek(a0)
        data = original.read(a1 - a0)
        regions.append([b0, b1, len(data)])
        blob += data
    facts.update(regions=regions, size_new=size_n, sha_new=sha256_of(copy), size_old=size_o,
                 sha_old=sha256_of(original))
    return facts, bytes(blob)


def restore_bytes(path: Path, facts: dict, blob: bytes, named: Optional[Callable[[Path], None]] = None) -> None:
    """Put back the file a write replaced, byte for byte, with its modification time.

    Raises
    ------
    TagError
        The file is no longer exactly what the write left (or the kept bytes do not
        rebuild the original): nothing was changed; undo tag by tag instead.
    """
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    regions = facts.get("regions")
    if not regions or sum(r[2] for r in regions) != len(blob):
        raise TagError("its original bytes were not kept")
    try:
        _rebuild(path, facts, blob, regions, named)
    except OSError as exc:  # a full disk, a vanished folder: nothing was replaced
        raise TagError(f"cannot be written ({exc.strerror or exc})") from None


def _rebuild(path: Path, facts: dict, blob: bytes, regions: list, named) -> None:
    with open_regular(path, writable=True) as current:
        st = os.fstat(current.fileno())
        check_writable(path, st)
        if st.st_size != facts["size_new"] or sha256_of(current) != facts["sha_new"]:
            raise TagError("it changed since the write (not byte for byte as written)")
        with TempCopy(path, named) as copy:
            digest, pos, used = hashlib.sha256(), 0, 0
            for start, end, length in sorted(regions):
                for piece in _pieces(current, pos, start):
                    copy.handle.write(piece)
                    digest.update(piece)
                piece = blob[used:used + length]
                copy.handle.write(piece)
                digest.update(piece)
                used, pos = used + length, end
            for piece in _pieces(current, pos, st.st_size):
                copy.handle.write(piece)
                digest.update(piece)
            if digest.hexdigest() != facts["sha_old"]:
                raise TagError("its kept bytes do not rebuild the original")
            copy.keep_owner_and_mode(st, current)
            copy.handle.flush()
            os.utime(copy.handle.fileno(), ns=(facts["atime_ns"], facts["mtime_ns"]))
            copy.replace(current, st)


def _pieces(handle: BinaryIO, start: int, end: int):
    handle.seek(start)
    left = end - start
    while left > 0:
        block = handle.read(min(_BLOCK, left))
        if not block:
            raise TagError("it became shorter while being read")
        left -= len(block)
        yield block

