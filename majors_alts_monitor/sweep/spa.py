"""The sweep's best point tested like a run's selection: Hansen's SPA and Romano-Wolf StepM
(``stats.selection``) over the finished points' out-of-sample net daily returns.

The sweep picks its best point by out-of-sample Sharpe, a selection over every finished
configuration (counted once per config hash, as the sweep-level deflated Sharpe counts them).
The family is those points; their returns are aligned on the days every one of them has (the
points' out-of-sample spans differ when a swept key moves the folds: the common span is
reported), and tested against the always-flat book (the headline) and against each point's own
always-on book. Every point's returns are kept in ``sweep_returns.parquet`` (artifacts) so that
``--resume`` can count the points it does not run again."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from ..config import Config
from ..stats.selection import ALPHA, SPABootstrap, selection_bootstraps
from .spec import SweepSpec


@dataclass(frozen=True)
class PointReturns:
    """A finished point's stitched out-of-sample pnl days and net returns, and its always-on
    book's net returns on the same days."""

    dates: np.ndarray  # datetime64[D], ascending
    net: np.ndarray
    benchmark: np.ndarray


SPA_METHOD = (
    "Hansen's SPA (consistent p-value, statistic sqrt(n) times the best per-period Sharpe of the "
    "excess returns, stationary bootstrap of the best point's "
    "stats.n_boot, stats.mean_block and stats.seed) over the finished points counted once per "
    "config hash: their out-of-sample net daily returns on the days every one of them has "
    "(common_start..common_end), against the always-flat book (p_value, the headline: the "
    "best point's selection priced in) and against each point's own always-on book "
    "(p_value_always_on). stepm: the points Romano-Wolf StepM shows to beat the benchmark with "
    "family-wise error alpha."
)


def returns_table(spec: SweepSpec, returns: dict[int, PointReturns | None]) -> pa.Table:
    """Every finished point's returns by config hash (each configuration once)."""
    hashes: list[str] = []
    dates: list[np.ndarray] = []
    net: list[np.ndarray] = []
    bench: list[np.ndarray] = []
    seen: set[str] = set()
    for p in spec.points:
        r = returns.get(p.id)
        h = p.config.hash()
        if r is None or h in seen:
            continue
        seen.add(h)
        hashes += [h] * r.dates.size
        dates.append(r.dates.astype("datetime64[D]"))
        net.append(r.net)
        bench.append(r.benchmark)

    def cat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

    return pa.table(
        {
            "config_hash": pa.array(hashes, pa.string()),
            "date": pa.array(cat(dates, "datetime64[D]"), pa.date32()),
            "net_return": pa.array(cat(net, np.float64), pa.float64()),
            "benchmark_net_return": pa.array(cat(bench, np.float64), pa.float64()),
        }
    )


def returns_by_hash(t: pa.Table) -> dict[str, PointReturns]:
    """``returns_table`` read back: each config hash's returns."""
    if t.num_rows == 0:
        return {}
    h = np.asarray(t.column("config_hash").to_pylist(), dtype=object)
    d = t.column("date").to_numpy().astype("datetime64[D]")
    net = t.column("net_return").to_numpy()
    bench = t.column("benchmark_net_return").to_numpy()
    out = {}
    for key in dict.fromkeys(h.tolist()):
        m = h == key
        out[str(key)] = PointReturns(d[m], net[m], bench[m])
    return out


def _side(boot: SPABootstrap, points: list[int], best_col: int) -> dict[str, Any]:
    res = boot.spa(alpha=ALPHA)
    sm = boot.stepm(ALPHA)
    sup = [points[int(c)] for c in sm.superior]
    return {
        **res.p_values(),
        "max_point": points[res.best] if res.best >= 0 else None,
        "best_point_statistic": float(res.statistics[best_col]),
        "stepm_superior_points": sup,
        "stepm_best_point_superior": points[best_col] in sup,
    }


def sweep_spa(
    points: list[int], best: int, returns: dict[int, PointReturns | None], cfg: Config
) -> dict[str, Any]:
    """``sweep_summary.json`` ``sweep_spa`` over the finished points ``points`` (one per config
    hash) whose best by out-of-sample Sharpe is ``best``; resamples from ``cfg.stats``."""
    have = [i for i in points if returns.get(i) is not None]
    out: dict[str, Any] = {
        "p_value": None,
        "p_value_always_on": None,
        "claims_edge": False,
        "family_size": len(points),
        "points_without_returns": len(points) - len(have),
        "n_days": 0,
        "common_start": None,
        "common_end": None,
        "resamples": int(cfg.stats.n_boot),
        "mean_block": float(cfg.stats.mean_block),
        "scale": "sd",
        "alpha": ALPHA,
        "method": SPA_METHOD,
    }
    if best not in have or len(have) < len(points):
        out["note"] = "not computed: a finished point's out-of-sample returns are missing"
        return out
    common = returns[have[0]].dates  # type: ignore[union-attr]
    for i in have[1:]:
        common = np.intersect1d(common, returns[i].dates)  # type: ignore[union-attr]
    if common.size < 2:
        out["note"] = "not computed: the points' out-of-sample spans share fewer than 2 days"
        return out
    cols, bcols = [], []
    for i in have:
        r = returns[i]
        assert r is not None
        keep = np.isin(r.dates, common)
        cols.append(np.nan_to_num(r.net[keep]))
        bcols.append(np.nan_to_num(r.benchmark[keep]))
    x, b = np.column_stack(cols), np.column_stack(bcols)
    flat, on = selection_bootstraps(
        x, (None, b), n_boot=cfg.stats.n_boot, mean_block=cfg.stats.mean_block, seed=cfg.stats.seed
    )
    j = have.index(best)
    vs_flat, vs_on = _side(flat, have, j), _side(on, have, j)
    p = vs_flat["p_value"]
    out.update(
        p_value=p,
        p_value_always_on=vs_on["p_value"],
        claims_edge=bool(p is not None and math.isfinite(p) and p < ALPHA),
        n_days=int(common.size),
        common_start=str(common[0]),
        common_end=str(common[-1]),
        vs_flat=vs_flat,
        vs_always_on=vs_on,
    )
    return out
