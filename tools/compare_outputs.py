"""Compare two trees of the monitor's outputs file by file, the clock (timestamps, timings,
peak memory), run ids, package versions and paths aside: what a refactor that must not move a
user's numbers is checked with.

usage: python tools/compare_outputs.py BEFORE AFTER [--ignore KEY,KEY...]

BEFORE and AFTER hold one output root per case in sub-folders of the same names (for example
``demo/``, ``rb/``, ``real/``, ``sweep/``, each made with ``--output-root BEFORE/demo`` and so on by
the old and the new tree). JSON files are compared as data, parquet files as frames (and their
key-value metadata), everything else as bytes after normalising the roots, timestamps and
hexadecimal ids; ``*.log`` files and ``cache/`` are skipped. Prints one line per file that is
not byte-identical and exits 1 if any differs.

``--ignore`` drops more JSON keys (at any depth) from the comparison, for a change that adds
configuration keys on purpose: ``--ignore config_hash,candidate_margin`` compares everything but
the new key and the hash that covers it. The keys ignored are printed with the result.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

CLOCK = {
    "generated_at",
    "started_at",
    "finished_at",
    "timings_s",
    "run_id",
    "mtime",
    "mtime_ns",
    "pid",
    "host",
    "elapsed_s",
    "duration_s",
    "point_seconds_median",
    "point_seconds_total",
    "seconds",
    "peak_rss_mb",
    "wall_seconds",
    "points_per_minute",
}
MANIFEST_ONLY = {"sha256", "bytes", "version", "package_version"}
TIMESTAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?")
HEX_ID = re.compile(rb"\b[0-9a-f]{16,64}\b")


def normalise(data: bytes, root: Path) -> bytes:
    for r in (str(root.resolve()), str(root)):
        data = data.replace(r.encode(), b"<ROOT>")
    data = re.sub(rb"demo_lake_7_[0-9a-f]{10}", b"demo_lake_7_<KEY>", data)
    data = re.sub(
        rb"/[\w.-]{1,64}(?:/[\w.-]{1,64}){0,8}/majors_alts_monitor/",
        b"<TREE>/majors_alts_monitor/",
        data,
    )
    return TIMESTAMP.sub(b"<TS>", data)


def strip(obj: Any, drop: set[str]) -> Any:
    if isinstance(obj, dict):
        return {k: strip(v, drop) for k, v in obj.items() if k not in drop}
    if isinstance(obj, list):
        return [strip(v, drop) for v in obj]
    return obj


def show(a: Any, b: Any, path: str, budget: list[int]) -> None:
    """Print where two JSON values differ (at most 20 lines)."""
    if budget[0] <= 0:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                print(f"    key only on one side: {path}.{k}")
                budget[0] -= 1
            elif a[k] != b[k]:
                show(a[k], b[k], f"{path}.{k}", budget)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                show(x, y, f"{path}[{i}]", budget)
    else:
        print(f"    {path}: {repr(a)[:120]} != {repr(b)[:120]}")
        budget[0] -= 1


IGNORED: set[str] = set()  # --ignore


def same_json(pa: Path, pb: Path, ra: Path, rb: Path) -> bool:
    drop = CLOCK | IGNORED | (MANIFEST_ONLY if pa.name.endswith("manifest.json") else set())
    ja = strip(json.loads(normalise(pa.read_bytes(), ra)), drop)
    jb = strip(json.loads(normalise(pb.read_bytes(), rb)), drop)
    if ja != jb:
        show(ja, jb, pa.name, [20])
    return ja == jb


def same_parquet(pa: Path, pb: Path, ra: Path, rb: Path) -> bool:
    if not pl.read_parquet(pa).equals(pl.read_parquet(pb), null_equal=True):
        return False

    def meta(p: Path, root: Path) -> dict[bytes, bytes]:
        kv = pq.read_metadata(p).metadata or {}
        return {
            k: HEX_ID.sub(b"<ID>", normalise(v, root))
            for k, v in kv.items()
            if k != b"ARROW:schema"
        }

    return meta(pa, ra) == meta(pb, rb)


def files(root: Path) -> list[Path]:
    """The files a reader opens: what the documented paths show (links followed), without the
    publication's own folders (``.majors_alts``, lock files), ``cache/`` and logs."""
    out = []
    for here, dirs, names in os.walk(root, followlinks=True):
        dirs[:] = [d for d in dirs if d != "cache" and not d.startswith(".")]
        out += [
            (Path(here) / n).relative_to(root)
            for n in names
            if not n.startswith(".") and not n.endswith(".log")
        ]
    return sorted(out)


def main(a: Path, b: Path) -> int:
    fa, fb = files(a), files(b)
    bad = 0
    if fa != fb:
        print("file sets differ:", sorted(map(str, set(fa) ^ set(fb))))
        bad += 1
    for rel in fa:
        pa, pb = a / rel, b / rel
        if not pb.exists() or pa.read_bytes() == pb.read_bytes():
            continue
        ra, rb = a / rel.parts[0], b / rel.parts[0]
        if rel.suffix == ".json":
            ok = same_json(pa, pb, ra, rb)
        elif rel.suffix == ".parquet":
            ok = same_parquet(pa, pb, ra, rb)
        else:
            na = HEX_ID.sub(b"<ID>", normalise(pa.read_bytes(), ra))
            nb = HEX_ID.sub(b"<ID>", normalise(pb.read_bytes(), rb))
            ok = na == nb
        print(("same once normalised: " if ok else "DIFFERS: ") + str(rel))
        bad += not ok
    ignored = f" (JSON keys ignored: {','.join(sorted(IGNORED))})" if IGNORED else ""
    print("RESULT", ("IDENTICAL" if not bad else f"{bad} DIFFER") + ignored)
    return 1 if bad else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--ignore" in args:
        i = args.index("--ignore")
        IGNORED.update(k for k in args[i + 1].split(",") if k)
        del args[i : i + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    sys.exit(main(Path(args[0]), Path(args[1])))
