"""Atomic writers: every output is rendered in memory, written to a temporary name in its own
folder and renamed into place, so a reader never sees half a file and a failed run leaves the
previous outputs whole. Only this module and ``dashboard.py`` (through this one) write files."""

from __future__ import annotations

import io
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

REPORTS = Path("reports") / "majors_alts"
ARTIFACTS = Path("artifacts") / "majors_alts"
CACHE = Path("cache")


@dataclass(frozen=True)
class OutputPaths:
    root: Path

    @property
    def reports(self) -> Path:
        return self.root / REPORTS

    @property
    def artifacts(self) -> Path:
        return self.root / ARTIFACTS

    @property
    def cache(self) -> Path:
        return self.root / CACHE


def clean_json(x: Any) -> Any:
    """JSON-safe copy: NaN/inf -> None, numpy scalars -> Python, tuples -> lists."""
    if isinstance(x, dict):
        return {str(k): clean_json(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [clean_json(v) for v in x]
    if isinstance(x, np.ndarray):
        return clean_json(x.tolist())
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating | float):
        f = float(x)
        return f if math.isfinite(f) else None
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def to_json_bytes(obj: Any) -> bytes:
    return (json.dumps(clean_json(obj), indent=2, allow_nan=False) + "\n").encode()


def csv_bytes(df: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.write_csv(buf, date_format="%Y-%m-%d", float_precision=None)
    return buf.getvalue()


def parquet_bytes(df: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.write_parquet(buf)
    return buf.getvalue()


def _write_temp(path: Path, data: bytes) -> Path:
    """Write ``data`` to a hidden temporary name beside ``path`` (flushed to disk)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return tmp


def atomic_write(path: Path, data: bytes) -> None:
    write_all({path: data})


def write_all(files: dict[Path, bytes]) -> list[Path]:
    """Write a set of rendered files in two phases: every file goes to a temporary name first
    (a failure there removes them and leaves every previous output as it was), then each is
    renamed into place, so readers see either the old or the new version of each file."""
    tmps: list[tuple[Path, Path]] = []
    try:
        for path, data in files.items():
            tmps.append((_write_temp(path, data), path))
    except BaseException:
        for tmp, _ in tmps:
            tmp.unlink(missing_ok=True)
        path.with_name(f".{path.name}.tmp-{os.getpid()}").unlink(missing_ok=True)
        raise
    for tmp, path in tmps:
        os.replace(tmp, path)
    return list(files)


def render_run_files(
    paths: OutputPaths,
    *,
    timeline: pl.DataFrame,
    features: pl.DataFrame,
    pnl: pl.DataFrame,
    equity: pl.DataFrame,
    kpis: dict,
    regime_metrics: pl.DataFrame,
    dashboard_html: str,
    signal: dict | None,
    manifest: dict,
    folds: list[dict],
    trials: pl.DataFrame,
    log_text: str = "",
    attribution: pl.DataFrame | None = None,
) -> dict[Path, bytes]:
    r, a = paths.reports, paths.artifacts
    files = {
        r / "regime_timeline.csv": csv_bytes(timeline),
        r / "features_wide.parquet": parquet_bytes(features),
        r / "bt_daily_pnl.csv": csv_bytes(pnl),
        r / "bt_equity_curve.csv": csv_bytes(equity),
        r / "kpis.json": to_json_bytes(kpis),
        r / "regime_metrics.csv": csv_bytes(regime_metrics),
        r / "dashboard.html": dashboard_html.encode(),
        a / "fold_params.json": to_json_bytes(folds),
        a / "trials.parquet": parquet_bytes(trials),
        a / "run_manifest.json": to_json_bytes(manifest),
        a / "run.log": log_text.encode(),
    }
    if signal is not None:
        files[r / "signals_today.json"] = to_json_bytes(signal)
    if attribution is not None:
        files[r / "pnl_attribution.csv"] = csv_bytes(attribution)
    return files
