"""Every file-system call that publication makes, in one place.

Publication (``generations``, ``layout``, ``accumulate``) never calls ``os`` directly for a
write, an fsync, a rename, a link or a removal: it calls these, each of which first announces
itself to ``hook`` (``None`` in normal use). The fault-injection tests set a hook that fails
the k-th rename, fsync or write with ``ENOSPC``/``EIO``, or kills the process there, and check
that readers then see the previous set or the new one, never both.

Operation names given to the hook: ``write`` (a file's bytes), ``fsync`` (a file or a folder),
``rename`` (including an exchange), ``symlink``, ``link`` (a hard link), ``mkdir`` and
``remove``.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

Hook = Callable[[str, str], None]
hook: Hook | None = None


@contextmanager
def hooked(h: Hook | None) -> Iterator[None]:
    """Run the block with ``h`` called before every operation (tests)."""
    global hook
    before = hook
    hook = h
    try:
        yield
    finally:
        hook = before


def _at(op: str, path: Path | str) -> None:
    if hook is not None:
        hook(op, str(path))


def write_file(path: Path, data: bytes) -> None:
    """Create ``path`` (it must not exist; a symlink there is not followed) with ``data``,
    flushed to disk before returning."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    try:
        _at("write", path)
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        _at("fsync", path)
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (names created, renamed or removed in it) to disk."""
    _at("fsync", path)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def rename(src: Path, dst: Path) -> None:
    """``rename(2)``: ``dst`` is replaced in one step (a reader sees the old or the new)."""
    _at("rename", dst)
    os.replace(src, dst)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(a: Path, b: Path) -> bool:
    """Swap two names in one step (Linux ``renameat2(RENAME_EXCHANGE)``, e.g. a folder and the
    symlink that replaces it). False when the system cannot (the caller then renames twice)."""
    _at("rename", b)
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    r = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if r == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def symlink(target: str, path: Path) -> None:
    _at("symlink", path)
    os.symlink(target, path)


def link_or_copy(src: Path, dst: Path) -> None:
    """A hard link of ``src`` at ``dst`` (the same bytes, no copy); a copy (flushed) where the
    file system has no hard links."""
    _at("link", dst)
    try:
        os.link(src, dst, follow_symlinks=True)
    except OSError as err:
        if err.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
        write_file(dst, Path(src).read_bytes())


def mkdir(path: Path) -> None:
    _at("mkdir", path)
    os.mkdir(path)


def makedirs(path: Path) -> list[Path]:
    """Create ``path`` and missing parents; returns the folders created, outermost first (their
    parents need an fsync for the names to last)."""
    made: list[Path] = []
    todo = []
    p = Path(path)
    while not p.exists():
        if p.is_symlink():  # a dangling symlink in the way
            raise FileExistsError(errno.EEXIST, "a dangling symlink is in the way", str(p))
        todo.append(p)
        p = p.parent
    for d in reversed(todo):
        try:
            mkdir(d)
        except FileExistsError:
            continue
        made.append(d)
    return made


def remove(path: Path) -> None:
    """Remove a file, a symlink or a whole folder (a missing path is not an error)."""
    _at("remove", path)
    p = Path(path)
    if p.is_symlink() or p.is_file():
        p.unlink(missing_ok=True)
    elif p.is_dir():
        shutil.rmtree(p)
