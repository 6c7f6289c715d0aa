"""Byte-level snapshots of a folder, to prove a run changed nothing in it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from majors_alts_monitor.publish.lock import LOCK_NAME


def file_stat_snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under ``root`` (relative path) with its size, mtime_ns and sha256. The lock
    file of a lake the importers write is left out: taking the lock writes its owner's name
    there, and it holds no data."""
    out: dict[str, tuple[int, int, str]] = {}
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            if f == LOCK_NAME and p.parent == Path(root):
                continue
            st = p.stat()
            digest = hashlib.sha256(p.read_bytes()).hexdigest()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns, digest)
    return out
