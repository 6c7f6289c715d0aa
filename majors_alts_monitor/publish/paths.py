"""Where a write lands, decided before anything is written: every output path is resolved with
its symlinks followed, and refused when it lands inside a lake (or is the DuckDB file). A
symlink loop or an unreadable parent is an error naming the option, not a traceback."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..errors import OutputLocationError


def resolve(path: Path | str, option: str) -> Path:
    """``path`` with every symlink followed (the part that exists; the rest is kept as given).
    A symlink loop, or a path that cannot be examined, is an ``OutputLocationError`` naming
    ``option``."""
    p = Path(path).expanduser()
    try:
        return p.resolve(strict=False)
    except (RuntimeError, OSError) as err:  # "Symlink loop from ..." (RuntimeError on 3.11)
        raise OutputLocationError(
            f"{option} {path} cannot be resolved ({err}). What to do: pass a path without a "
            "symlink loop, in a folder you can read"
        ) from None


def is_inside(child: Path, parent: Path) -> bool:
    """Whether resolved ``child`` is ``parent`` or inside it (both already resolved)."""
    return child == parent or parent in child.parents


def refuse_in_lakes(
    targets: Iterable[tuple[Path, str]], lakes: Iterable[Path | None], duckdb: Path | None = None
) -> None:
    """Refuse when any ``(path, what)`` resolves inside one of ``lakes`` or onto ``duckdb``."""
    lake_res = [(lk, resolve(lk, "--lake")) for lk in lakes if lk is not None]
    duck = resolve(duckdb, "--duckdb") if duckdb is not None else None
    for path, what in targets:
        r = resolve(path, what)
        for lk, lr in lake_res:
            if is_inside(r, lr):
                raise OutputLocationError(
                    f"{what} {path} resolves to {r}, inside the lake {lk}: this command would "
                    "write into the lake. What to do: pass --output-root with a folder outside "
                    "the lake (and remove any symlink that points into it)"
                )
        if duck is not None and r == duck:
            raise OutputLocationError(f"{what} {path} is the DuckDB file {duckdb}")
