"""The sweep's result table and summary: one row per point, written deterministically.

``sweep_results.parquet`` holds only what the configuration and the data determine (no
timings, no worker ids, no timestamps), sorted by point id and written by pyarrow with fixed
settings, so the file is byte-identical whatever the number of workers or the order in which
points complete. Timings go to ``sweep_manifest.json``.
"""

from __future__ import annotations

import io
import json
import math
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .. import stats
from ..config import Config
from .spec import SweepSpec

# result columns after `point`, the swept keys, `config_hash`, `status`, `error`
METRICS: dict[str, str] = {
    "start": "first day of the run's effective window",
    "end": "last day of the run's effective window",
    "oos_start": "first out-of-sample pnl day",
    "oos_end": "last out-of-sample pnl day",
    "oos_days": "out-of-sample pnl days",
    "n_folds": "walk-forward folds",
    "oos_sharpe": "annualised Sharpe of the stitched out-of-sample net returns",
    "oos_sharpe_ci_low": "stationary-bootstrap 95% interval, low end",
    "oos_sharpe_ci_high": "stationary-bootstrap 95% interval, high end",
    "deflated_sharpe": "the point's own deflated Sharpe (its n_trials inner trials)",
    "deflated_sharpe_hurdle": "annualised expected best Sharpe of n_trials null trials",
    "probabilistic_sharpe": "probability that the true Sharpe exceeds 0",
    "pbo": "probability of backtest overfitting, CSCV over the out-of-sample span",
    "n_trials": "inner parameter sets searched in every fold",
    "trial_sharpe_variance_per_period": "variance of the trials' per-period OOS Sharpe",
    "cagr": "compound annual growth of the out-of-sample net returns",
    "ann_return": "mean daily net return x 365",
    "ann_vol": "annualised volatility",
    "sortino": "annualised Sortino ratio",
    "max_drawdown": "maximum drawdown (<= 0)",
    "calmar": "cagr / |max_drawdown|",
    "hit_rate": "share of positive days",
    "exposure_share": "share of days with exposure",
    "avg_daily_turnover": "mean daily sum of |weight changes|",
    "total_fees": "sum of fees, fraction of equity",
    "total_slippage": "sum of slippage, fraction of equity",
    "total_funding": "sum of funding pnl (negative = paid)",
    "benchmark_sharpe": "annualised Sharpe of the always-held book, same days and costs",
    "beta_btc_realized": "realized beta of the net returns to BTC (invested days)",
    "beta_eth_realized": "realized beta of the net returns to ETH (invested days)",
    "neutrality_error": "sqrt(beta_btc_realized^2 + beta_eth_realized^2)",
    "sharpe_per_period": "per-period (daily) Sharpe, the input of the sweep-level DSR",
    "skew": "skewness of the daily net returns",
    "kurtosis": "non-excess kurtosis of the daily net returns (normal = 3)",
}
_STR = {"start", "end", "oos_start", "oos_end"}
_INT = {"oos_days", "n_folds", "n_trials"}


def _f(x: Any) -> float | None:
    if x is None:
        return None
    f = float(x)
    return f if math.isfinite(f) else None


def error_row(message: str) -> dict[str, Any]:
    return {"status": "error", "error": message}


def ok_row(
    cfg: Config, kpis: dict, r: np.ndarray, n_folds: int, start: date, end: date
) -> dict[str, Any]:
    """The metric columns of a finished point, from its kpis.json and its OOS net returns."""
    wf, st, nt = kpis["walk_forward"], kpis["strategy"], kpis["neutrality"]
    sr_pp, _, skew, kurt = stats.sharpe_moments(r)
    ci = wf["oos_sharpe_ci95"]
    row: dict[str, Any] = {
        "status": "ok",
        "error": None,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "oos_start": kpis["period"]["start"],
        "oos_end": kpis["period"]["end"],
        "oos_days": int(kpis["period"]["days"]),
        "n_folds": int(n_folds),
        "oos_sharpe": wf["oos_sharpe"],
        "oos_sharpe_ci_low": ci[0],
        "oos_sharpe_ci_high": ci[1],
        "deflated_sharpe": wf["deflated_sharpe"],
        "deflated_sharpe_hurdle": wf["deflated_sharpe_hurdle"],
        "probabilistic_sharpe": wf["probabilistic_sharpe"],
        "pbo": wf["pbo"],
        "n_trials": int(wf["n_trials"]),
        "trial_sharpe_variance_per_period": wf["trial_sharpe_variance_per_period"],
        "benchmark_sharpe": kpis["benchmark_always_on"]["sharpe"],
        "beta_btc_realized": nt["beta_btc_realized"],
        "beta_eth_realized": nt["beta_eth_realized"],
        "neutrality_error": nt["neutrality_error"],
        "sharpe_per_period": sr_pp,
        "skew": skew,
        "kurtosis": kurt,
    }
    for k in (
        "cagr",
        "ann_return",
        "ann_vol",
        "sortino",
        "max_drawdown",
        "calmar",
        "hit_rate",
        "exposure_share",
        "avg_daily_turnover",
        "total_fees",
        "total_slippage",
        "total_funding",
    ):
        row[k] = st[k]
    return row


def _key_type(values: list[Any]) -> pa.DataType:
    vs = [v for v in values if v is not None]
    if vs and all(isinstance(v, bool) for v in vs):
        return pa.bool_()
    if vs and all(isinstance(v, int) and not isinstance(v, bool) for v in vs):
        return pa.int64()
    if vs and all(isinstance(v, int | float) and not isinstance(v, bool) for v in vs):
        return pa.float64()
    if all(isinstance(v, str) for v in vs):
        return pa.string()
    return pa.string()  # lists, mappings, mixed: canonical JSON text


def _key_value(v: Any, t: pa.DataType) -> Any:
    if v is None:
        return None
    if t == pa.string() and not isinstance(v, str):
        return json.dumps(v, sort_keys=True, separators=(",", ":"))
    if t == pa.float64():
        return float(v)
    return v


def schema(spec: SweepSpec) -> pa.Schema:
    key_types = {k: _key_type([p.values[k] for p in spec.points]) for k in spec.keys}
    fields = [pa.field("point", pa.int64())]
    fields += [pa.field(k, t) for k, t in key_types.items()]
    fields += [
        pa.field("config_hash", pa.string()),
        pa.field("status", pa.string()),
        pa.field("error", pa.string()),
    ]
    for m in METRICS:
        fields.append(
            pa.field(m, pa.string() if m in _STR else pa.int64() if m in _INT else pa.float64())
        )
    return pa.schema(fields)


def table(spec: SweepSpec, rows: dict[int, dict[str, Any]]) -> pa.Table:
    """Every point of the sweep in point order; points without a row are ``pending``."""
    sch = schema(spec)
    cols: dict[str, list[Any]] = {f.name: [] for f in sch}
    for p in spec.points:
        row = rows.get(p.id, {"status": "pending", "error": None})
        cols["point"].append(p.id)
        for k in spec.keys:
            cols[k].append(_key_value(p.values[k], sch.field(k).type))
        cols["config_hash"].append(p.config.hash())
        cols["status"].append(row["status"])
        cols["error"].append(row.get("error"))
        for m in METRICS:
            v = row.get(m)
            if m in _STR:
                cols[m].append(v)
            elif m in _INT:
                cols[m].append(None if v is None else int(v))
            else:
                cols[m].append(_f(v))
    return pa.table(cols, schema=sch)


def parquet_bytes(t: pa.Table) -> bytes:
    """Deterministic parquet: one row group, zstd level 3, statistics on, no pandas metadata,
    and no timestamps (pyarrow writes none; the schema carries no metadata)."""
    buf = io.BytesIO()
    pq.write_table(
        t.replace_schema_metadata(None),
        buf,
        compression="zstd",
        compression_level=3,
        write_statistics=True,
        use_dictionary=False,
        row_group_size=max(1, t.num_rows),
        version="2.6",
        data_page_version="1.0",
        store_schema=True,
    )
    return buf.getvalue()


DSR_METHOD = (
    "Deflated Sharpe ratio (Bailey & Lopez de Prado 2014) of the best point (highest "
    "out-of-sample Sharpe among the points that finished), counting every inner trial of every "
    "finished point once (entries of the sweep file with the same configuration, or differing "
    "only in keys their run does not read, are one point; points differing only in what sets "
    "the composite search's trial 0 share their other trials, counted once): n_trials = the "
    "sum of the points' distinct trials, and the variance of the trials' "
    "per-period Sharpe is taken over all those trials pooled (each trial's Sharpe measured over "
    "its own point's out-of-sample span). The best point's per-period Sharpe, skewness, kurtosis "
    "and number of days enter as in a single run. Picking the best point is one more selection "
    "over the inner searches, so this is the number to quote for the best point, not its own "
    "deflated_sharpe column. Correlated trials make it conservative."
)


def summary(
    spec: SweepSpec, rows: dict[int, dict[str, Any]], trial_sr: dict[int, np.ndarray | None]
) -> dict[str, Any]:
    """sweep_summary.json: counts, the best point and its sweep-level deflated Sharpe."""
    ok, seen = [], set()
    for i in sorted(rows):  # one configuration is one set of trials, however often it appears
        h = spec.points[i].config.hash()
        if rows[i]["status"] == "ok" and _f(rows[i]["oos_sharpe"]) is not None and h not in seen:
            ok.append(i)
            seen.add(h)
    out: dict[str, Any] = {
        "sweep_hash": spec.hash(),
        "n_points": len(spec.points),
        "n_ok": sum(1 for r in rows.values() if r["status"] == "ok"),
        "n_error": sum(1 for r in rows.values() if r["status"] == "error"),
        "n_pending": len(spec.points) - len(rows),
        "swept_keys": list(spec.keys),
        "best_point": None,
        "sweep_deflated_sharpe": None,
        "sweep_deflated_sharpe_method": DSR_METHOD,
        "duplicates": [
            {
                "entry": d.entry,
                "overrides": d.overrides,
                "duplicate_of": d.duplicate_of,
                "why": d.why,
            }
            for d in spec.duplicates
        ],
        "key_warnings": list(spec.warnings),
    }
    if not ok:
        return out
    best = max(ok, key=lambda i: (rows[i]["oos_sharpe"], -i))
    pooled, n_total, shared = _distinct_trials(spec, rows, trial_sr, ok)
    allsr = np.concatenate(pooled) if pooled else np.zeros(0)
    var = float(np.var(allsr, ddof=1)) if allsr.size >= 2 else 0.0
    b = rows[best]
    sr_pp, n_obs = _f(b["sharpe_per_period"]), int(b["oos_days"])
    dsr = None
    if sr_pp is not None and _f(b["skew"]) is not None and _f(b["kurtosis"]) is not None:
        dsr = stats.deflated_sharpe(
            sr_pp, n_obs, b["skew"], b["kurtosis"], n_trials=n_total, var_trials=var
        )
    hurdle = stats.expected_max_sharpe(n_total, var) * math.sqrt(365) if n_total > 1 else 0.0
    pt = spec.points[best]
    out["best_point"] = {
        "point": best,
        "overrides": pt.overrides,
        "values": pt.values,
        "config_hash": pt.config.hash(),
        "oos_sharpe": b["oos_sharpe"],
        "oos_sharpe_ci95": [b["oos_sharpe_ci_low"], b["oos_sharpe_ci_high"]],
        "own_deflated_sharpe": b["deflated_sharpe"],
    }
    out["sweep_deflated_sharpe"] = {
        "value": dsr,
        "n_trials_total": n_total,
        "n_trials_shared": shared,
        "n_points_counted": len(ok),
        "trial_sharpe_variance_per_period": var,
        "hurdle_annualised": hurdle,
    }
    return out


def _distinct_trials(
    spec: SweepSpec,
    rows: dict[int, dict[str, Any]],
    trial_sr: dict[int, np.ndarray | None],
    ok: list[int],
) -> tuple[list[np.ndarray], int, int]:
    """The trials of the finished points, each counted once: points that differ only in what
    sets the composite search's trial 0 (one ``search_hash``, ``inert.py``) searched the same
    other sets, so after the first such point each adds its trial 0 alone, when its other
    trials' Sharpes are indeed the first's. Returns (Sharpes to pool, trials counted, trials
    counted once instead of again)."""
    pooled: list[np.ndarray] = []
    total = shared = 0
    first_of: dict[str, int] = {}
    for i in ok:
        n, sr = int(rows[i]["n_trials"]), trial_sr.get(i)
        key = spec.points[i].search_hash
        j = first_of.setdefault(key, i) if key else i
        ref = trial_sr.get(j)
        if (
            j != i
            and sr is not None
            and ref is not None
            and len(sr) == len(ref) == n > 1
            and np.array_equal(sr[1:], ref[1:])
        ):
            total += 1
            shared += n - 1
            pooled.append(sr[:1])
            continue
        total += n
        if sr is not None:
            pooled.append(sr)
    return pooled, total, shared


def trials_table(spec: SweepSpec, trial_sr: dict[int, np.ndarray | None]) -> pa.Table:
    """Every finished point's trial Sharpes (per period, over its OOS span), by config hash:
    what the sweep-level DSR pools, kept so that ``--resume`` can count resumed points."""
    hashes: list[str] = []
    trial, sr = [np.empty(0, np.int64)], [np.empty(0, np.float64)]
    for p in spec.points:
        a = trial_sr.get(p.id)
        if a is None:
            continue
        hashes += [p.config.hash()] * len(a)
        trial.append(np.arange(len(a), dtype=np.int64))
        sr.append(np.asarray(a, dtype=np.float64))
    return pa.table(
        {
            "config_hash": hashes,
            "trial": np.concatenate(trial),
            "sharpe_per_period": np.concatenate(sr),
        },
        schema=pa.schema(
            [
                pa.field("config_hash", pa.string()),
                pa.field("trial", pa.int64()),
                pa.field("sharpe_per_period", pa.float64()),
            ]
        ),
    )


def previous_points(
    spec: SweepSpec, results: pa.Table, trials: pa.Table | None
) -> tuple[dict[int, dict[str, Any]], dict[int, np.ndarray | None]]:
    """Rows and trial Sharpes of an earlier run of this sweep that can be reused: points with
    the same config hash that finished ``ok`` (and whose trials were kept, when they have more
    than one). Failed, pending and changed points run again."""
    by_hash = {r["config_hash"]: r for r in results.to_pylist() if r.get("status") == "ok"}
    sr_by_hash: dict[str, list[float]] = {}
    if trials is not None:
        for h, x in zip(
            trials.column("config_hash").to_pylist(),
            trials.column("sharpe_per_period").to_pylist(),
            strict=True,
        ):
            sr_by_hash.setdefault(h, []).append(x)
    rows: dict[int, dict[str, Any]] = {}
    srs: dict[int, np.ndarray | None] = {}
    for p in spec.points:
        old = by_hash.get(p.config.hash())
        if old is None:
            continue
        sr = sr_by_hash.get(p.config.hash())
        if (old.get("n_trials") or 1) > 1 and sr is None:
            continue
        rows[p.id] = {"status": "ok", "error": None, **{m: old.get(m) for m in METRICS}}
        srs[p.id] = None if sr is None else np.asarray(sr, dtype=np.float64)
    return rows, srs
