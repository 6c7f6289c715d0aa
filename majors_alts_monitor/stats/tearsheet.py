"""The tearsheet numbers quantstats users expect, as pure functions on numpy arrays.

Conventions (the same as ``stats.py``; pinned to quantstats 0.0.86 in the tests):

- ``monthly_returns``: compounded net returns per calendar month, ``prod(1 + r) - 1``, one row
  a year, columns ``JAN``..``DEC`` and ``EOY`` (the year compounded), as
  ``qs.stats.monthly_returns(r, eoy=True, compounded=True)``; a month without any day is null
  (quantstats shows 0 there).
- ``rolling_sharpe``: ``mean / std(ddof=1) * sqrt(365)`` over the trailing ``window`` days, null
  until the window is full, as ``qs.stats.rolling_sharpe(r, rolling_period=180,
  periods_per_year=365)``; ``rolling_volatility`` is ``std(ddof=1) * sqrt(365)``, as
  ``qs.stats.rolling_volatility``.
- ``drawdown_details``: equity compounds from 1.0 before the first day (that 1.0 is a peak).
  ``start`` is the first day under water, ``trough`` the day of the lowest equity, ``recovery``
  the first day back at the previous peak (null while the drawdown is open), ``length_days``
  the calendar days from ``start`` to the last day under water, inclusive; ``start``,
  ``trough``, ``depth`` and ``length_days`` equal quantstats' ``start``, ``valley``,
  ``max drawdown / 100`` and ``days``; its ``end`` is the day before ``recovery``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

__all__ = [
    "MONTHS",
    "drawdown_details",
    "monthly_returns",
    "pnl_attribution",
    "rolling_sharpe",
    "rolling_volatility",
    "trade_list",
]

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
PERIODS = 365


def _days(dates: npt.ArrayLike) -> np.ndarray:
    return np.asarray(dates).astype("datetime64[D]")


def monthly_returns(dates: npt.ArrayLike, r: npt.ArrayLike) -> pl.DataFrame:
    """Year x month table of compounded returns with the compounded year in ``EOY``."""
    d = _days(dates)
    x = np.nan_to_num(np.asarray(r, dtype=np.float64))
    schema = {"year": pl.Int64} | {m: pl.Float64 for m in (*MONTHS, "EOY")}
    if d.size == 0:
        return pl.DataFrame(schema=schema)
    month = d.astype("datetime64[M]")
    years = month.astype("datetime64[Y]").astype(np.int64) + 1970
    mon = month.astype(np.int64) % 12
    log1p = np.log1p(x)
    rows = []
    for y in np.unique(years):
        in_y = years == y
        row: dict[str, object] = {"year": int(y)}
        for k, name in enumerate(MONTHS):
            sel = in_y & (mon == k)
            row[name] = float(np.expm1(log1p[sel].sum())) if sel.any() else None
        row["EOY"] = float(np.expm1(log1p[in_y].sum()))
        rows.append(row)
    return pl.DataFrame(rows, schema=schema)


def _windows(r: npt.ArrayLike, window: int) -> tuple[np.ndarray, np.ndarray | None]:
    x = np.asarray(r, dtype=np.float64)
    if window < 2:
        raise ValueError(f"window must be at least 2, got {window}")
    if x.size < window:
        return x, None
    return x, np.lib.stride_tricks.sliding_window_view(x, window)


def rolling_volatility(r: npt.ArrayLike, window: int = 180, periods: int = PERIODS) -> np.ndarray:
    """Trailing ``window``-day volatility, annualised; NaN until the window is full."""
    x, w = _windows(r, window)
    out = np.full(x.size, np.nan)
    if w is not None:
        ok = np.isfinite(w).all(axis=1)
        sd = np.std(np.where(ok[:, None], w, 0.0), axis=1, ddof=1)
        out[window - 1 :] = np.where(ok, sd * np.sqrt(periods), np.nan)
    return out


def rolling_sharpe(r: npt.ArrayLike, window: int = 180, periods: int = PERIODS) -> np.ndarray:
    """Trailing ``window``-day Sharpe, annualised; NaN until full and where the window is flat."""
    x, w = _windows(r, window)
    out = np.full(x.size, np.nan)
    if w is not None:
        ok = np.isfinite(w).all(axis=1)
        safe = np.where(ok[:, None], w, 0.0)
        mu = safe.mean(axis=1)
        sd = np.std(safe, axis=1, ddof=1)
        good = ok & (sd > 1e-12 * np.maximum(1.0, np.abs(mu)))
        out[window - 1 :] = np.where(good, mu / np.where(good, sd, 1.0) * np.sqrt(periods), np.nan)
    return out


def drawdown_details(dates: npt.ArrayLike, r: npt.ArrayLike, top: int = 5) -> pl.DataFrame:
    """The ``top`` deepest drawdowns: start, trough, recovery (null if open), depth, length."""
    d = _days(dates)
    x = np.nan_to_num(np.asarray(r, dtype=np.float64))
    schema = {
        "start": pl.Date,
        "trough": pl.Date,
        "recovery": pl.Date,
        "depth": pl.Float64,
        "length_days": pl.Int64,
        "open": pl.Boolean,
    }
    if d.size == 0:
        return pl.DataFrame(schema=schema)
    eq = np.cumprod(1.0 + x)
    peak = np.maximum.accumulate(np.concatenate([[1.0], eq]))[1:]
    dd = eq / peak - 1.0
    under = dd < 0
    edges = np.diff(np.concatenate([[0], under.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    rows = []
    for a, b in zip(starts, ends, strict=True):
        t = a + int(np.argmin(dd[a : b + 1]))
        is_open = b == d.size - 1
        rows.append(
            {
                "start": d[a].item(),
                "trough": d[t].item(),
                "recovery": None if is_open else d[b + 1].item(),
                "depth": float(dd[t]),
                "length_days": int((d[b] - d[a]).astype(np.int64)) + 1,
                "open": bool(is_open),
            }
        )
    out = pl.DataFrame(rows, schema=schema)
    return out.sort("depth").head(top) if out.height else out


def trade_list(
    dates: npt.ArrayLike,
    regime: list[str],
    exposure: npt.ArrayLike,
    turnover: npt.ArrayLike,
    fee: npt.ArrayLike,
    slippage: npt.ArrayLike,
) -> pl.DataFrame:
    """One row per day the held regime changes (the first day it is held), with that day's
    exposure change, turnover and costs (which include that day's ordinary rebalancing).

    ``kind``: ``entry`` (flat -> invested), ``exit`` (invested -> flat), ``resize`` (between
    two non-zero exposures) or ``no trade`` (a change between two flat regimes). The first
    day counts as a change from flat when it is invested."""
    d = _days(dates)
    e = np.nan_to_num(np.asarray(exposure, dtype=np.float64))
    to, fe, sl = (np.nan_to_num(np.asarray(v, dtype=np.float64)) for v in (turnover, fee, slippage))
    schema = {
        "date": pl.Date,
        "from_regime": pl.String,
        "to_regime": pl.String,
        "kind": pl.String,
        "exposure_before": pl.Float64,
        "exposure_after": pl.Float64,
        "exposure_change": pl.Float64,
        "turnover": pl.Float64,
        "fee_cost": pl.Float64,
        "slippage_cost": pl.Float64,
        "total_cost": pl.Float64,
    }
    rows = []
    for i in range(d.size):
        prev_reg = regime[i - 1] if i else None
        prev_e = e[i - 1] if i else 0.0
        if i and regime[i] == prev_reg:
            continue
        if not i and e[i] == 0.0:
            continue
        kind = (
            "no trade"
            if prev_e == 0.0 and e[i] == 0.0
            else "entry"
            if prev_e == 0.0
            else "exit"
            if e[i] == 0.0
            else "resize"
        )
        rows.append(
            {
                "date": d[i].item(),
                "from_regime": prev_reg,
                "to_regime": regime[i],
                "kind": kind,
                "exposure_before": float(prev_e),
                "exposure_after": float(e[i]),
                "exposure_change": float(e[i] - prev_e),
                "turnover": float(to[i]),
                "fee_cost": float(fe[i]),
                "slippage_cost": float(sl[i]),
                "total_cost": float(fe[i] + sl[i]),
            }
        )
    return pl.DataFrame(rows, schema=schema)


def pnl_attribution(
    held: np.ndarray, ret: np.ndarray, assets: tuple[str, ...], btc: int, eth: int
) -> pl.DataFrame:
    """Per-asset gross P&L of the held book: ``sum_d held[d, i] * ret[d, i]`` over the rows given.

    ``held`` is the weight held over each day (decided the day before, exposure applied),
    ``ret`` the assets' simple returns that day (an undefined return counts 0, as in the
    backtest), so the rows sum to the strategy's summed daily gross return. ``leg`` is
    ``BTC``, ``ETH`` or ``basket``. Rows with no day held are left out; sorted by leg, then P&L.
    """
    contrib = held * np.nan_to_num(ret)
    on = held != 0
    n_on = on.sum(axis=0)
    sum_w = np.where(on, held, 0.0).sum(axis=0)
    keep = np.flatnonzero(n_on > 0)
    leg = ["BTC" if i == btc else "ETH" if i == eth else "basket" for i in keep]
    df = pl.DataFrame(
        {
            "asset_id": [assets[i] for i in keep],
            "leg": leg,
            "pnl": contrib[:, keep].sum(axis=0),
            "days_held": n_on[keep].astype(np.int64),
            "mean_weight": sum_w[keep] / n_on[keep],
        },
        schema={
            "asset_id": pl.String,
            "leg": pl.String,
            "pnl": pl.Float64,
            "days_held": pl.Int64,
            "mean_weight": pl.Float64,
        },
    )
    order = pl.col("leg").replace_strict({"BTC": 0, "ETH": 1, "basket": 2}, return_dtype=pl.Int8)
    return df.sort([order, pl.col("pnl")], descending=[False, True])
