"""The synthetic demo lake (``--demo``): generated once under the output root's ``cache/``,
keyed by the generator's source so that a changed generator makes a new lake instead of
reusing a stale one, and checked against the sha256 of its files (``lake.sha256.json``) before
each reuse: a damaged or replaced file makes a new lake, never other numbers."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from ..errors import MonitorError

DEMO_SEED = 7
DEMO_ASSETS = 60


def generator_key() -> str:
    """A hash of the synthetic generator's source files (the ``synthetic`` package's modules,
    in name order), found on disk without importing them: a warm demo run never imports the
    generator."""
    import hashlib
    import importlib.util

    spec = importlib.util.find_spec(f"{__package__}.synthetic")  # found, not imported
    if spec is None or not spec.submodule_search_locations:
        raise MonitorError("the synthetic generator is not installed with this package")
    h = hashlib.sha256()
    for f in sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.py")):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:10]


def demo_lake_root(output_root: Path) -> Path:
    """The demo lake's folder, keyed by the generator's source (``generator_key``) so a changed
    generator makes a new lake instead of reusing a stale one."""
    return output_root / "cache" / f"demo_lake_{DEMO_SEED}_{generator_key()}"


def demo_conflict(demo: str, given: str) -> MonitorError:
    """The error for asking for the demo lake and a lake of one's own at once."""
    return MonitorError(
        f"{demo} runs on the generated synthetic demo lake and cannot be combined with "
        f"{given}. What to do: drop {demo} to use your lake, or drop {given} for the demo"
    )


HASHES = "lake.sha256.json"


def _hashes(lake_dir: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(lake_dir.glob("*.parquet"))
    }


def _whole(demo_root: Path) -> bool:
    try:
        want = json.loads((demo_root / HASHES).read_text())
        return bool(want) and _hashes(demo_root / "lake") == want
    except (OSError, ValueError):
        return False


def ensure_demo_lake(output_root: Path, say: Callable[[str], None] | None = None) -> Path:
    """The demo lake's folder under ``output_root``, generated once (keyed by the generator's
    source, see ``demo_lake_root``) and reused only while its files have the sha256 recorded
    when it was generated."""
    demo_root = demo_lake_root(output_root)
    lake_dir = demo_root / "lake"
    if not _whole(demo_root):
        from .synthetic import synth_command

        say = say or (lambda m: print(m, file=sys.stderr))
        if lake_dir.exists():
            logging.getLogger("majors_alts_monitor").warning(
                f"the cached demo lake {lake_dir} does not match its recorded hashes (damaged, "
                "or made by an earlier version): generating it again"
            )
            shutil.rmtree(demo_root, ignore_errors=True)
        say(f"generating the synthetic demo lake (seed {DEMO_SEED}) in {demo_root.resolve()}")
        synth_command(demo_root, seed=DEMO_SEED, world="planted", n_assets=DEMO_ASSETS)
        tmp = demo_root / f".{HASHES}.tmp-{os.getpid()}"
        tmp.write_text(json.dumps(_hashes(lake_dir), indent=1, sort_keys=True) + "\n")
        os.replace(tmp, demo_root / HASHES)
    return lake_dir
