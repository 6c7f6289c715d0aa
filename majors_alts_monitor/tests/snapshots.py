"""Byte-level snapshots of a folder, to prove a run changed nothing in it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def file_stat_snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under ``root`` (relative path) with its size, mtime_ns and sha256."""
    out: dict[str, tuple[int, int, str]] = {}
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            st = p.stat()
            digest = hashlib.sha256(p.read_bytes()).hexdigest()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns, digest)
    return out
