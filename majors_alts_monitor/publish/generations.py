"""Generations: a complete set of files written into a new folder, then switched in by one rename.

A ``Store`` is a folder ``HOME`` holding ``gens/<id>/`` (one folder per published set), and two
symlinks, ``current`` (what readers see) and ``previous`` (the set before it, kept for a reader
that resolved it a moment ago). Publishing a set:

1. every file is written into ``gens/<id>/`` (or hard-linked from the current set when it is
   carried over unchanged), each flushed to disk, then ``GENERATION.json``, the record of the
   set (every file's sha256 and size, the links, the command that wrote it), last;
2. every folder of the set, and ``gens/``, is flushed to disk;
3. the lock is checked (still this process's, see ``lock.Lock.check``);
4. ``previous`` is pointed at the old set, then ``current`` at the new one: a symlink made under
   a temporary name and renamed over ``current``. That rename is the commit: before it readers
   see the old set whole, after it the new set whole, never a mixture;
5. ``HOME`` is flushed to disk and generations other than ``current`` and ``previous`` are removed.

A process killed anywhere leaves either the old set current (its half-written folder is removed
by the next writer's ``recover``) or the new one. A failure (a full disk, an I/O error) before
the commit removes the new folder and raises ``PublishError`` saying that the previous set
stands; after it, the message says the new set is in place. What this process published is
recorded in ``published`` for the command's interrupted and failure messages.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import PublishError
from . import fsops
from .lock import Lock

log = logging.getLogger("majors_alts_monitor")

GEN_FILE = "GENERATION.json"
CURRENT, PREVIOUS, GENS = "current", "previous", "gens"
FORMAT = 1


@dataclass(frozen=True)
class Carry:
    """A file carried into the new set unchanged: hard-linked from ``src`` (no copy)."""

    src: Path


@dataclass(frozen=True)
class Link:
    """A symlink in the set (relative ``target``), e.g. to files that accumulate outside it."""

    target: str


Entry = bytes | Carry | Link


@dataclass(frozen=True)
class Published:
    """One set this process switched in: where readers find it and which generation it is."""

    where: Path
    store: Path
    generation: str


published: list[Published] = []
"""What the current command published, in order (``reset`` at the start of a command)."""

kept: list[Path] = []
"""Files the current command wrote outside the generations, whole (a signal's own record in
``signals/``, a ledger record: folders that accumulate), as readers see them, in order."""


def reset() -> None:
    published.clear()
    kept.clear()


def wrote_kept(path: Path) -> None:
    """Note that ``path`` (outside the generations) was written whole by this command."""
    kept.append(Path(path))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def new_id() -> str:
    """``YYYYmmddTHHMMSSZ-<pid>-<random>``: sorts by time, names the writer's process."""
    t = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{t}-{os.getpid()}-{secrets.token_hex(3)}"


def _pid_of(name: str) -> int | None:
    parts = name.split("-")
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fail_text(err: OSError) -> str:
    what = err.strerror or str(err)
    return f"{what}: {err.filename}" if err.filename else what


class Store:
    """The generations of one published set (see the module docstring)."""

    def __init__(self, home: Path, name: str) -> None:
        self.home = Path(home)
        self.name = name

    @property
    def gens(self) -> Path:
        return self.home / GENS

    def _read_link(self, which: str) -> str | None:
        try:
            target = os.readlink(self.home / which)
        except OSError:
            return None
        name = Path(target).name
        return name if (self.gens / name).is_dir() else None

    def current_id(self) -> str | None:
        return self._read_link(CURRENT)

    def previous_id(self) -> str | None:
        return self._read_link(PREVIOUS)

    def current(self) -> Path | None:
        gid = self.current_id()
        return None if gid is None else self.gens / gid

    def record(self, gid: str | None = None) -> dict[str, Any] | None:
        """``GENERATION.json`` of a generation (the current one by default), or None."""
        gid = gid or self.current_id()
        if gid is None:
            return None
        try:
            rec = json.loads((self.gens / gid / GEN_FILE).read_text())
        except (OSError, ValueError):
            return None
        return rec if isinstance(rec, dict) else None

    def current_files(self) -> dict[str, Path]:
        """Every file of the current set (relative path -> path), links and the record aside."""
        g = self.current()
        if g is None:
            return {}
        out = {}
        for dirpath, dirs, files in os.walk(g):
            for f in files:
                p = Path(dirpath) / f
                rel = p.relative_to(g).as_posix()
                if rel != GEN_FILE and not p.is_symlink():
                    out[rel] = p
            dirs[:] = [d for d in dirs if not (Path(dirpath) / d).is_symlink()]
        return out

    # ---- publishing ----------------------------------------------------------------------
    def publish(
        self,
        entries: Mapping[str, Entry],
        *,
        command: str,
        where: Path,
        lock: Lock | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> str:
        """Write ``entries`` (relative path -> bytes, ``Carry`` or ``Link``) as a new generation
        and switch it in (module docstring). Returns its id. ``where`` is the path readers use
        (for the messages)."""
        old = self.current_id()
        old_rec = (self.record(old) or {}).get("files", {}) if old else {}
        gid = new_id()
        g = self.gens / gid
        switched = False
        try:
            made = fsops.makedirs(self.gens)
            fsops.mkdir(g)
            files: dict[str, dict[str, Any]] = {}
            links: dict[str, str] = {}
            dirs = {g}
            for rel in sorted(entries):
                entry = entries[rel]
                p = g / rel
                for d in fsops.makedirs(p.parent):
                    dirs.add(d)
                if isinstance(entry, Link):
                    fsops.symlink(entry.target, p)
                    links[rel] = entry.target
                elif isinstance(entry, Carry):
                    fsops.link_or_copy(entry.src, p)
                    prev = old_rec.get(rel)
                    src_gen = old is not None and Path(entry.src).parent.is_relative_to(
                        self.gens / old
                    )
                    if prev is not None and src_gen:
                        files[rel] = dict(prev)
                    else:
                        files[rel] = {
                            "sha256": sha256_file(p),
                            "bytes": p.stat().st_size,
                            "command": command,
                        }
                else:
                    fsops.write_file(p, entry)
                    files[rel] = {
                        "sha256": hashlib.sha256(entry).hexdigest(),
                        "bytes": len(entry),
                        "command": command,
                    }
            rec = {
                "format": FORMAT,
                "store": self.name,
                "generation": gid,
                "command": command,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "writer": {"pid": os.getpid(), "host": socket.gethostname()},
                "previous_generation": old,
                **dict(meta or {}),
                "files": files,
                "links": links,
            }
            body = (json.dumps(rec, indent=2, sort_keys=False, default=str) + "\n").encode()
            fsops.write_file(g / GEN_FILE, body)
            for d in sorted(dirs, key=lambda d: -len(d.parts)):
                fsops.fsync_dir(d)
            fsops.fsync_dir(self.gens)
            for d in made:
                fsops.fsync_dir(d.parent)
            if lock is not None:
                lock.check()
            if old is not None:
                self._point(PREVIOUS, old)
            self._point(CURRENT, gid)  # the commit
            switched = True
            published.append(Published(Path(where), self.home, gid))
            fsops.fsync_dir(self.home)
        except BaseException as err:
            if not switched and self.current_id() == gid:  # interrupted right after the rename
                switched = True
                published.append(Published(Path(where), self.home, gid))
            if switched:
                if isinstance(err, OSError):
                    raise PublishError(
                        f"the new {self.name} set is published at {where} (generation {gid}) "
                        f"and readers see it, but flushing {self.home} to disk failed "
                        f"({_fail_text(err)}): after a power loss the previous set could "
                        "come back. What to do: check the disk, then run `majors-alts verify`"
                    ) from None
                raise
            self._abandon(g)
            if isinstance(err, OSError):
                state = (
                    f"readers still see the previous set, whole (generation {old})"
                    if old
                    else "there was no previous set"
                )
                raise PublishError(
                    f"could not publish the {self.name} set at {where} ({_fail_text(err)}); "
                    f"nothing was published: {state}. What to do: free space or fix the disk "
                    "or permissions, then run the command again"
                ) from None
            raise
        self.prune()
        return gid

    def _point(self, which: str, gid: str) -> None:
        tmp = self.home / f".{which}.tmp-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        fsops.symlink(f"{GENS}/{gid}", tmp)
        fsops.rename(tmp, self.home / which)

    def _abandon(self, g: Path) -> None:
        """Best effort after a failure before the commit (the next ``recover`` finishes it)."""
        for p in (g, *self.home.glob(f".*.tmp-{os.getpid()}")):
            try:
                fsops.remove(p)
            except OSError as err:
                log.warning(f"could not remove {p} ({_fail_text(err)}); the next writer will")

    # ---- recovery --------------------------------------------------------------------------
    def adopt_copies(self) -> None:
        """A root copied by a tool that follows links (``cp -r``) holds ``current`` and
        ``previous`` as folders: each becomes a generation again, its name a link to it."""
        for which in (PREVIOUS, CURRENT):
            p = self.home / which
            if p.is_dir() and not p.is_symlink():
                gid = new_id()
                fsops.makedirs(self.gens)
                fsops.rename(p, self.gens / gid)
                self._point(which, gid)
                fsops.fsync_dir(self.home)

    def prune(self) -> list[str]:
        """Remove generations other than ``current`` and ``previous`` (old sets, and sets a
        killed or failed writer never switched in), and temporary links of dead processes.
        A failure is a warning: the next writer tries again."""
        done: list[str] = []
        if not self.home.is_dir():
            return done
        self.adopt_copies()
        keep = {self.current_id(), self.previous_id()}
        me = os.getpid()
        for tmp in self.home.glob(".*.tmp-*"):
            pid = tmp.name.rsplit("-", 1)[-1]
            if pid.isdigit() and (int(pid) == me or not pid_alive(int(pid))):
                with contextlib.suppress(OSError):
                    fsops.remove(tmp)
        if not self.gens.is_dir():
            return done
        for g in sorted(self.gens.iterdir()):
            if g.name in keep:
                continue
            pid = _pid_of(g.name)
            if pid is not None and pid != me and pid_alive(pid):
                continue  # a live writer's folder (one that got in without the lock)
            try:
                fsops.remove(g)
                done.append(g.name)
            except OSError as err:
                log.warning(f"could not remove the old generation {g} ({_fail_text(err)})")
        return done
