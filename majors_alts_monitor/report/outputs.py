"""The bytes of every output: a run's files rendered in memory (``render_run_files``), with the
run id and the manifest that lists every file's sha256. Writing them is ``publish``'s job: the
whole set goes into a new generation switched in by one rename (``publish.layout``), under the
output root's lock, so a reader never sees half a file nor two runs' files at once.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from ..backtest.stages import RunResult

log = logging.getLogger("majors_alts_monitor")

SUB = "majors_alts"
REPORTS = Path("reports") / SUB
ARTIFACTS = Path("artifacts") / SUB
CACHE = Path("cache")
# manifest keys that change from run to run with the same inputs (kept out of the run id)
VOLATILE = ("timings_s", "started_at", "finished_at", "generated_at")


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
        f = float(x) + 0.0  # -0.0 + 0.0 is 0.0: no "-0.0" in a file
        return f if math.isfinite(f) else None
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def to_json_bytes(obj: Any) -> bytes:
    return (json.dumps(clean_json(obj), indent=2, allow_nan=False) + "\n").encode()


def positive_zero(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with every negative zero of its float columns made 0.0 (no other value changes):
    a weight of 0 times a negative beta is -0.0, which a file would print as "-0.0"."""
    return df.with_columns(
        pl.when(pl.col(c) == 0).then(pl.lit(0.0, dtype=t)).otherwise(pl.col(c)).alias(c)
        for c, t in df.schema.items()
        if t.is_float()
    )


def csv_bytes(df: pl.DataFrame) -> bytes:
    """``df`` as CSV; a negative zero is written as 0.0 (``positive_zero``)."""
    buf = io.BytesIO()
    positive_zero(df).write_csv(buf, date_format="%Y-%m-%d", float_precision=None)
    return buf.getvalue()


def parquet_bytes(df: pl.DataFrame, metadata: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    df.write_parquet(buf, metadata=metadata)
    return buf.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run_id(manifest: dict) -> str:
    """The same inputs give the same id: package version, config hash, window and the lake's
    files (sizes and modification times), nothing that depends on the clock."""
    lake = manifest.get("lake", {})
    basis = {
        "package_version": manifest.get("package_version"),
        "config_hash": manifest.get("config_hash"),
        "command": manifest.get("command"),
        "effective_window": manifest.get("effective_window"),
        "lake_tables": lake.get("tables") if isinstance(lake, dict) else None,
    }
    return sha256(json.dumps(clean_json(basis), sort_keys=True).encode())[:16]


def _timings_to_manifest(kpis: dict, manifest: dict) -> tuple[dict, dict]:
    """Timings (a block's ``seconds``, such as ``robustness.seconds``) leave kpis.json for the
    manifest's ``timings_s`` (as ``<block>``, unless the pipeline timed it there already), so
    kpis.json depends on the inputs only."""
    timings = dict(manifest.get("timings_s", {}))
    out = {}
    for k, v in kpis.items():
        if isinstance(v, dict) and "seconds" in v:
            timings.setdefault(k, v["seconds"])  # the pipeline's own lap wins
            v = {kk: vv for kk, vv in v.items() if kk != "seconds"}
        out[k] = v
    return out, {**manifest, "timings_s": timings}


def render_run_files(
    res: RunResult,
    *,
    dashboard_html: str,
    with_signal: bool = True,
    log_text: str = "",
) -> dict[str, bytes]:
    """Every output of a run, rendered, by its path inside a run set (``reports/kpis.json``,
    seen at ``reports/majors_alts/kpis.json``). The run id (``run_id``) goes into the manifest,
    kpis.json, the parquet files' metadata and a ``<meta>`` tag of the dashboard; the manifest
    lists every other file's sha256 (by its documented path)."""
    r, a = "reports/", "artifacts/"
    kpis, manifest = _timings_to_manifest(res.kpis, res.manifest)
    signal = res.signal if with_signal else None
    rid = run_id(manifest)
    meta = {"majors_alts_run_id": rid}
    html = dashboard_html.replace(
        "<head>", f'<head><meta name="majors-alts-run-id" content="{rid}">', 1
    )
    files = {
        r + "regime_timeline.csv": csv_bytes(res.timeline),
        r + "features_wide.parquet": parquet_bytes(res.features, meta),
        r + "bt_daily_pnl.csv": csv_bytes(res.pnl),
        r + "bt_equity_curve.csv": csv_bytes(res.equity),
        r + "kpis.json": to_json_bytes({**kpis, "run_id": rid}),
        r + "regime_metrics.csv": csv_bytes(res.regime_metrics),
        r + "dashboard.html": html.encode(),
        a + "fold_params.json": to_json_bytes(res.folds),
        a + "trials.parquet": parquet_bytes(res.trials, meta),
        a + "run.log": log_text.encode(),
    }
    if signal is not None:
        # no run id here: `signals` rewrites this file on its own, and the file must be the
        # same whichever command wrote it (generated_at aside)
        files[r + "signals_today.json"] = to_json_bytes(signal)
    if res.attribution is not None:
        files[r + "pnl_attribution.csv"] = csv_bytes(res.attribution)
    listed = {documented(p): {"sha256": sha256(b), "bytes": len(b)} for p, b in files.items()}
    full = {**manifest, "run_id": rid, "files": listed}
    files[a + "run_manifest.json"] = to_json_bytes(full)
    return files


def documented(rel: str) -> str:
    """The documented path of a file of a run set: ``reports/kpis.json`` ->
    ``reports/majors_alts/kpis.json``."""
    top, _, rest = rel.partition("/")
    return f"{top}/{SUB}/{rest}"
