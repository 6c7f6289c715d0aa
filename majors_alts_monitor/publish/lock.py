"""One writer at a time: the lock of an output root, or of a lake the importers write.

The lock is a file beside the data it guards (``ROOT/reports/.majors_alts.lock`` for an output
root, ``LAKE/.majors_alts.lock`` for a lake), not in ``cache/``: cleaning the cache cannot
delete it. It is created exclusively when absent (a
symlink in its place is refused, never followed), held with ``flock`` (released by the kernel
when its owner dies, so a killed owner never blocks), and names its owner (pid, host, command,
since when) for the message a second writer gets.

A lock file removed or replaced while held (``rm -rf ROOT`` half-way, a clean-up script) would
let a second writer in. ``Lock.check`` notices it (the path no longer names the file held) and
publication calls it just before it switches a generation in, so the holder then publishes
nothing and says why.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import socket
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..errors import OutputLocationError, PublishError

log = logging.getLogger("majors_alts_monitor")

LOCK_NAME = ".majors_alts.lock"
LOCK_WAIT_ENV = "MAJORS_ALTS_LOCK_WAIT_S"
LOCK_WAIT_S = 10.0


@dataclass
class Lock:
    path: Path
    fd: int
    ino: tuple[int, int]
    what: str
    depth: int = 1

    def check(self) -> None:
        """Raise ``PublishError`` when the lock file was removed or replaced while held."""
        try:
            st = os.lstat(self.path)
            here = (st.st_dev, st.st_ino)
        except OSError:
            here = None
        if here != self.ino:
            raise PublishError(
                f"the lock file {self.path} was removed or replaced while this command held it "
                f"(a clean-up of the {self.what}?), so another writer may have started; nothing "
                "was published by this command. What to do: make sure no other command writes "
                f"this {self.what}, then run the command again"
            )


_HELD: dict[Path, Lock] = {}


def _owner_note(command: str) -> bytes:
    since = datetime.now(UTC).isoformat(timespec="seconds")
    return f"pid {os.getpid()} on {socket.gethostname()} ({command}) since {since}\n".encode()


def _open(path: Path, what: str) -> int:
    flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            fd = os.open(path, flags)
    except OSError as err:
        why = (
            "it is a symlink; the lock is never followed elsewhere"
            if err.errno == errno.ELOOP
            else err.strerror or str(err)
        )
        raise OutputLocationError(
            f"cannot open the lock file {path} ({why}). What to do: pass a {what} you can "
            "write to" + (", and remove that symlink" if err.errno == errno.ELOOP else "")
        ) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OutputLocationError(
            f"the lock file {path} is not a regular file. What to do: remove it"
        )
    return fd


@contextlib.contextmanager
def hold(
    folder: Path,
    what: str = "output root",
    wait_s: float | None = None,
    command: str = "",
    owner: Path | None = None,
) -> Iterator[Lock]:
    """Hold the lock file in ``folder`` (created if absent) for writing ``owner`` (the root or
    lake it guards, named in the messages; default ``folder``). A second process waits up to
    ``wait_s`` seconds (default ``$MAJORS_ALTS_LOCK_WAIT_S`` or 10) with a message, then refuses
    with an ``OutputLocationError`` naming the owner. Re-entrant within a process."""
    root = Path(folder)
    named = Path(owner) if owner is not None else root
    try:
        key = root.resolve()
    except (OSError, RuntimeError) as err:
        raise OutputLocationError(f"{what} {root} cannot be resolved ({err})") from None
    held = _HELD.get(key)
    if held is not None:
        held.depth += 1
        try:
            yield held
        finally:
            held.depth -= 1
        return
    if wait_s is None:
        wait_s = float(os.environ.get(LOCK_WAIT_ENV, LOCK_WAIT_S))
    path = root / LOCK_NAME
    command = command or "majors-alts"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputLocationError(
            f"cannot create the lock file in {root} ({err.strerror or err}). What to do: pass "
            f"a {what} you can write to"
        ) from None
    deadline, told = time.monotonic() + wait_s, False
    while True:
        fd = _open(path, what)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 300, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            if time.monotonic() >= deadline:
                raise OutputLocationError(
                    f"{what} {named} is in use by {owner} (lock {path}); waited {wait_s:g} s. "
                    f"What to do: wait for that command to finish, or pass another {what}"
                ) from None
            if not told:
                log.warning(f"{what} {named} is in use by {owner}; waiting up to {wait_s:g} s")
                told = True
            time.sleep(0.1)
            continue
        st = os.fstat(fd)
        try:
            now = os.lstat(path)
            same = (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino)
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # removed or replaced between our open and our flock: take the new one
    os.ftruncate(fd, 0)
    os.pwrite(fd, _owner_note(command), 0)
    lock = Lock(path, fd, (st.st_dev, st.st_ino), what)
    _HELD[key] = lock
    try:
        yield lock
    finally:
        del _HELD[key]
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def held(root: Path) -> Lock | None:
    """The lock this process holds on ``root``, if any."""
    try:
        return _HELD.get(Path(root).resolve())
    except (OSError, RuntimeError):
        return None
