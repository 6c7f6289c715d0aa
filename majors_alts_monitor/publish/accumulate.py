"""Files that accumulate (a ledger of issued signals, per-day records): appended, never
rewritten, never pruned, outside the generations (``layout.OutputRoot.keep_dir`` gives their
folder and links it into every run set, e.g. ``reports/majors_alts/ledger/``).

Two shapes, both crash-safe:

- ``append_record``: one record per file. The bytes go to a temporary name, are flushed, then
  hard-linked to the final name, which fails if it exists: a record appears whole or not at
  all, and is never replaced.
- ``append_line``: one JSON line appended to a file under ``flock`` and flushed. A line cut by a
  crash (no newline at the end of the file) was never complete: the next append removes it
  first (and says so), and ``read_lines`` never returns it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from pathlib import Path
from typing import Any

from ..errors import PublishError
from . import fsops
from .generations import wrote_kept

log = logging.getLogger("majors_alts_monitor")


def append_record(folder: Path, name: str, data: bytes) -> Path:
    """Write ``folder/name`` once (``PublishError`` if a record of that name exists). The
    error says whether the record is there (hard-linked, but its folder not flushed to disk)
    or nothing was recorded."""
    folder = Path(folder)
    final = folder / name
    tmp = folder / f".{name}.tmp-{os.getpid()}"
    linked = False
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    try:
        fsops.write_file(tmp, data)
        try:
            fsops._at("link", final)
            os.link(tmp, final)
        except FileExistsError:
            raise PublishError(
                f"{final} is already recorded; records are never replaced. What to do: leave "
                "it, or record under another name"
            ) from None
        linked = True
        wrote_kept(final)
        fsops.fsync_dir(folder)
    except OSError as err:
        what = err.strerror or err
        if linked:
            raise RecordedUnflushed(
                f"recorded {final} whole, but its folder could not be flushed to disk ({what}): "
                "the record may not survive a crash of the machine. What to do: fix the disk, "
                "then run the command again (the same call is not recorded twice)"
            ) from None
        raise PublishError(f"could not record {final} ({what}); nothing recorded") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return final


class RecordedUnflushed(PublishError):
    """``append_record`` linked the record, then could not flush its folder."""


def append_line(path: Path, record: dict[str, Any]) -> None:
    """Append ``record`` as one JSON line to ``path`` (created if absent), under a lock."""
    path = Path(path)
    line = (json.dumps(record, sort_keys=True, separators=(",", ":"), default=str) + "\n").encode()
    if b"\n" in line[:-1]:
        raise ValueError("a record must fit on one line")
    created = not path.exists()
    try:
        fd = os.open(
            path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666
        )
    except OSError as err:
        raise PublishError(f"cannot open {path} to append ({err.strerror or err})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size:
            tail = os.pread(fd, min(size, 1 << 16), max(0, size - (1 << 16)))
            if not tail.endswith(b"\n"):
                cut = tail.rfind(b"\n")
                keep = size - len(tail) + cut + 1 if cut >= 0 else (0 if size <= 1 << 16 else None)
                if keep is None:
                    raise PublishError(f"{path} ends with a line longer than 64 KiB and no newline")
                log.warning(
                    f"{path}: removed an incomplete last line left by a crash ({size - keep} bytes)"
                )
                os.ftruncate(fd, keep)
        fsops._at("write", path)
        os.write(fd, line)
        fsops._at("fsync", path)
        os.fsync(fd)
    except OSError as err:
        raise PublishError(f"could not append to {path} ({err.strerror or err})") from None
    finally:
        os.close(fd)
    if created:
        fsops.fsync_dir(path.parent)


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The complete records of a file written by ``append_line`` (a cut last line left out)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    lines = data.split(b"\n")
    return [json.loads(x) for x in lines[:-1] if x.strip()]
