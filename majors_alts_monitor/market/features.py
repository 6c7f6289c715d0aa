"""Daily market features of the majors-vs-alts spread, each a pure function of the panel.

Every feature value at day ``d`` uses data dated ``<= d`` only: the basket is the point-in-time
basket of ``d`` (``universe.py``) and every window ends at ``d`` inclusive. A feature that
needs a missing table is removed (one warning names them all), never filled with zeros.
Signs: ``alt_*`` features are alts minus majors, so a high value favours alts.

=======================  =============================================================  ======
name                     formula (basket = the day's short basket)                      window
=======================  =============================================================  ======
breadth_1d               share of basket alts with a positive return on d               1
breadth_7d               share of basket alts with a positive 7-day return              7
breadth_slope            7d mean of breadth_7d minus the same 7 days earlier            20
alt_median_ret_1d        median basket return on d                                      1
alt_dispersion_iqr       cross-sectional IQR of basket returns on d                      1
dispersion_slope         7d mean of alt_dispersion_iqr minus the same 7 days earlier    14
btc_dom                  BTC market cap / total cap of every non-stable asset on d      1
btc_dom_chg_1d/5d/20d    change of btc_dom over 1, 5, 20 days                           20
funding_skew             median basket funding minus BTC/ETH funding (OI-weighted       1
                         on days where both have open interest, else the plain mean;
                         the run says which, day count by day count, on every surface)
funding_heating          3d mean of funding_skew minus its 14d mean                     14
alt_volume_rel           basket volume / its trailing 30d median                        30
alt_volume_high_share    share of basket alts whose volume is at a 30d high             30
alt_volume_share         basket volume / (basket + BTC + ETH volume)                    1
vol_spread_7d            7d realised vol of the cap-weighted basket index minus BTC's   7
                         (annualised, sqrt(365))
alt_mom_3d/7d/20d        median basket k-day return minus the mean of BTC's and ETH's   20
oi_change_7d             median basket 7d log change of open interest minus majors'     7
=======================  =============================================================  ======

The rolling z-score of a feature at ``d`` is ``(x[d] - mean) / std`` over the trailing
``zscore_window`` days ending at ``d`` (at least ``zscore_min_periods`` observed), NaN in burn-in.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import polars as pl

from ..arrays import Mask, Panel, Series, shift
from ..config import FEATURE_NAMES
from .indicators import altcoin_season, log_change, market_totals, share
from .panel import MarketPanel, carry_forward, listed_cap_total
from .rolling import rolling_max, rolling_median
from .row_median import row_nanmedian
from .universe import Universe

T = TypeVar("T")


@dataclass(frozen=True)
class FeatureContext:
    """Arrays shared by the feature functions (computed once)."""

    panel: MarketPanel
    universe: Universe
    basket: Mask
    cumlog: Panel  # cumulative log returns, undefined returns counted as 0
    cumbad: Panel  # cumulative count of undefined returns
    max_gap_days: int = 3  # market caps are carried over gaps this long (data.max_gap_days)
    # what several features build on (btc_dom for its three changes, ...), computed once per
    # context by ``_shared``; never written in place by a feature
    memo: dict[str, object] = field(default_factory=dict, init=False, repr=False, compare=False)


def _shared(fn: Callable[[FeatureContext], T]) -> Callable[[FeatureContext], T]:
    """``fn(c)`` computed once per context: later calls return the first result."""

    @functools.wraps(fn)
    def once(c: FeatureContext) -> T:
        if fn.__name__ not in c.memo:
            c.memo[fn.__name__] = fn(c)
        return c.memo[fn.__name__]  # type: ignore[return-value]

    return once


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    func: Callable[[FeatureContext], Series]
    needs: frozenset[str]
    window: int
    doc: str


@dataclass(frozen=True)
class FeatureSet:
    names: tuple[str, ...]
    raw: np.ndarray  # (n_days, n_features)
    z: np.ndarray  # (n_days, n_features)
    removed: tuple[str, ...]
    warnings: tuple[str, ...]
    # how a feature whose definition depends on the data was computed in this window
    # (``funding_skew``: on how many days the majors' funding was weighted by open interest)
    definitions: dict[str, dict[str, object]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def frame(self, dates: np.ndarray) -> pl.DataFrame:
        cols: dict[str, object] = {"date": dates.astype("datetime64[D]")}
        for j, n in enumerate(self.names):
            cols[n] = self.raw[:, j]
        for j, n in enumerate(self.names):
            cols[f"z_{n}"] = self.z[:, j]
        return pl.DataFrame(cols).with_columns(pl.col("date").cast(pl.Date)).fill_nan(None)

    def column(self, name: str) -> int:
        return self.names.index(name)


def _quiet(fn: Callable[..., np.ndarray], *a: object, **k: object) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with np.errstate(all="ignore"):
            return fn(*a, **k)


def _masked(x: Panel, mask: Mask) -> Panel:
    return np.where(mask, x, np.nan)


def _rowmedian(x: Panel) -> Series:
    return row_nanmedian(x)  # np.nanmedian(x, axis=1) to the bit, compiled


def _rowmean(x: Panel) -> Series:
    return _quiet(np.nanmean, x, axis=1)


def rolling_mean(x: Series, window: int, min_periods: int | None = None) -> Series:
    s = pl.Series(x).fill_nan(None)
    out = s.rolling_mean(window, min_samples=min_periods or window).to_numpy()
    return np.where(np.isfinite(out), out, np.nan).astype(np.float64)


def rolling_std(x: Series, window: int, min_periods: int | None = None) -> Series:
    s = pl.Series(x).fill_nan(None)
    out = s.rolling_std(window, min_samples=min_periods or window).to_numpy()
    return np.where(np.isfinite(out), out, np.nan).astype(np.float64)


def kday_return(ctx: FeatureContext, k: int) -> Panel:
    """k-day simple return ending at d; NaN unless every daily return of the k days is defined."""
    valid = (ctx.cumbad - shift(ctx.cumbad, k)) == 0
    return np.where(valid, _quiet(np.expm1, ctx.cumlog - shift(ctx.cumlog, k)), np.nan)


def zscore(x: Series, window: int, min_periods: int) -> Series:
    mu = rolling_mean(x, window, min_periods)
    sd = rolling_std(x, window, min_periods)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (x - mu) / sd
    return np.where(np.isfinite(z) & (sd > 1e-12), z, np.nan)


# ---- feature functions -----------------------------------------------------------------------
def breadth_1d(c: FeatureContext) -> Series:
    r = _masked(c.panel.ret, c.basket)
    with np.errstate(invalid="ignore"):
        up = np.where(np.isfinite(r), (r > 0).astype(float), np.nan)
    return _rowmean(up)


@_shared
def breadth_7d(c: FeatureContext) -> Series:
    r = _masked(kday_return(c, 7), c.basket)
    with np.errstate(invalid="ignore"):
        up = np.where(np.isfinite(r), (r > 0).astype(float), np.nan)
    return _rowmean(up)


def _slope(x: Series) -> Series:
    m = rolling_mean(x, 7)
    return m - shift(m, 7)


def breadth_slope(c: FeatureContext) -> Series:
    return _slope(breadth_7d(c))


def alt_median_ret_1d(c: FeatureContext) -> Series:
    return _rowmedian(_masked(c.panel.ret, c.basket))


@_shared
def alt_dispersion_iqr(c: FeatureContext) -> Series:
    r = _masked(c.panel.ret, c.basket)
    q25, q75 = row_nanquantiles(r, (0.25, 0.75))
    return q75 - q25


def row_nanquantiles(x: Panel, qs: tuple[float, ...]) -> list[Series]:
    """Per-row quantiles ignoring NaN, numpy's default ``linear`` method (the same numbers as
    ``np.nanpercentile(x, 100 * q, axis=1)``), with one sort instead of numpy's per-row Python
    loop for arrays holding NaN; NaN for a row without values."""
    srt = np.sort(x, axis=1)  # NaN sort last
    n = (~np.isnan(x)).sum(axis=1)
    rows = np.arange(x.shape[0])
    out = []
    for q in qs:
        pos = q * np.maximum(n - 1, 0)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
        t = pos - lo
        a, b = srt[rows, lo], srt[rows, hi]
        diff = b - a
        v = np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)
        out.append(np.where(n > 0, v, np.nan))
    return out


def dispersion_slope(c: FeatureContext) -> Series:
    return _slope(alt_dispersion_iqr(c))


@_shared
def _carried_mcap(c: FeatureContext) -> Panel:
    return carry_forward(c.panel.mcap, c.max_gap_days)


@_shared
def btc_dom(c: FeatureContext) -> Series:
    """BTC's share of ``cap_total``: every listed asset of the lake, candidates or not."""
    mcap = _carried_mcap(c)
    p = c.panel
    total = p.cap_total if p.cap_total is not None else listed_cap_total(p.close, p.ret, mcap)
    b = mcap[:, c.universe.btc]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = b / total
    return np.where((total > 0) & np.isfinite(out), out, np.nan)


def _dom_chg(k: int) -> Callable[[FeatureContext], Series]:
    def f(c: FeatureContext) -> Series:
        d = btc_dom(c)
        return d - shift(d, k)

    f.__name__ = f"btc_dom_chg_{k}d"
    return f


@_shared
def funding_skew(c: FeatureContext) -> Series:
    p, u = c.panel, c.universe
    alt = _rowmedian(_masked(p.funding, c.basket))
    fb, fe = p.funding[:, u.btc], p.funding[:, u.eth]
    ob, oe = p.oi[:, u.btc], p.oi[:, u.eth]
    with np.errstate(invalid="ignore", divide="ignore"):
        w_oi = (ob * fb + oe * fe) / (ob + oe)
    plain = _quiet(np.nanmean, np.stack([fb, fe], axis=1), axis=1)
    weighted = np.isfinite(w_oi)
    c.memo["funding_skew_oi_weighted"] = weighted
    majors = np.where(weighted, w_oi, plain)
    return alt - majors


FUNDING_SKEW_RULE = (
    "median basket funding minus the majors' funding: BTC's and ETH's weighted by their open "
    "interest on days where both have it (fact_open_interest), their plain mean otherwise"
)


def funding_skew_definition(
    weighted: np.ndarray, value: Series, dates: np.ndarray
) -> tuple[dict[str, object], str | None]:
    """Which definition ``funding_skew`` had on the days it has a value (kpis.json
    ``feature_definitions``), and a warning when the window holds both."""
    ok = np.isfinite(value)
    w = weighted & ok
    n_w, n_m = int(w.sum()), int((ok & ~w).sum())
    kind = "mixed" if n_w and n_m else "open-interest weighted" if n_w else "plain mean"
    span = (str(dates[np.flatnonzero(w)[0]]), str(dates[np.flatnonzero(w)[-1]])) if n_w else None
    out: dict[str, object] = {
        "majors_funding": kind,
        "oi_weighted_days": n_w,
        "plain_mean_days": n_m,
        "oi_weighted_from": span[0] if span else None,
        "oi_weighted_to": span[1] if span else None,
        "rule": FUNDING_SKEW_RULE,
    }
    warn = None
    if kind == "mixed" and span is not None:
        warn = (
            f"funding_skew has two definitions in this window: the majors' funding is weighted "
            f"by open interest on {n_w} days ({span[0]}..{span[1]}) and a plain mean of BTC's "
            f"and ETH's on {n_m} days (where either lacks open interest); its z-score spans both "
            "(kpis.json feature_definitions)"
        )
    return out, warn


def funding_heating(c: FeatureContext) -> Series:
    s = funding_skew(c)
    return rolling_mean(s, 3) - rolling_mean(s, 14, 10)


@_shared
def _basket_volume(c: FeatureContext) -> Series:
    v = _masked(c.panel.volume, c.basket)
    n = np.isfinite(v).sum(axis=1)
    return np.where(n > 0, np.nansum(v, axis=1), np.nan)


def alt_volume_rel(c: FeatureContext) -> Series:
    v = _basket_volume(c)
    med = rolling_median(v[:, None], 30, 15)[:, 0]
    med = np.where(np.isfinite(med), med, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = v / med
    return np.where(np.isfinite(out), out, np.nan)


def alt_volume_high_share(c: FeatureContext) -> Series:
    vol = c.panel.volume
    hi = rolling_max(vol, 30, 15)
    hi = np.where(np.isfinite(hi), hi, np.nan)
    with np.errstate(invalid="ignore"):
        at_high = np.where(np.isfinite(vol) & np.isfinite(hi), (vol >= hi).astype(float), np.nan)
    return _rowmean(_masked(at_high, c.basket))


def alt_volume_share(c: FeatureContext) -> Series:
    a = _basket_volume(c)
    u = c.universe
    m = c.panel.volume[:, u.btc] + c.panel.volume[:, u.eth]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = a / (a + m)
    return np.where(np.isfinite(out), out, np.nan)


def vol_spread_7d(c: FeatureContext) -> Series:
    p = c.panel
    mcap = _carried_mcap(c)
    w = _masked(shift(mcap, 1), shift(c.basket.astype(float), 1) > 0)
    r = p.ret
    ok = np.isfinite(w) & np.isfinite(r)
    num = np.where(ok, w * r, 0.0).sum(axis=1)
    den = np.where(ok, w, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        idx = np.where(den > 0, num / den, np.nan)
    ann = np.sqrt(365.0)
    return (rolling_std(idx, 7, 5) - rolling_std(r[:, c.universe.btc], 7, 5)) * ann


def _alt_mom(k: int) -> Callable[[FeatureContext], Series]:
    def f(c: FeatureContext) -> Series:
        rk = kday_return(c, k)
        alt = _rowmedian(_masked(rk, c.basket))
        u = c.universe
        maj = 0.5 * (rk[:, u.btc] + rk[:, u.eth])
        return alt - maj

    f.__name__ = f"alt_mom_{k}d"
    return f


def oi_change_7d(c: FeatureContext) -> Series:
    p, u = c.panel, c.universe
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.where(p.oi > 0, np.log(p.oi), np.nan)
    ch = lo - shift(lo, 7)
    alt = _rowmedian(_masked(ch, c.basket))
    maj = _quiet(np.nanmean, ch[:, [u.btc, u.eth]], axis=1)
    return alt - maj


@_shared
def _totals(c: FeatureContext) -> tuple[Series, Series, Series, Series]:
    """TOTAL (``cap_total``, btc_dom's denominator, plus the stablecoins' caps), BTC's, ETH's
    and the stablecoins' caps per day."""
    p, u, mcap = c.panel, c.universe, _carried_mcap(c)
    crypto = p.cap_total if p.cap_total is not None else listed_cap_total(p.close, p.ret, mcap)
    return market_totals(crypto, mcap[:, u.btc], mcap[:, u.eth], p.stable_mcap)


def _altseason(n: int) -> Callable[[FeatureContext], Series]:
    def f(c: FeatureContext) -> Series:
        return altseason_counts(c, n)[0]

    f.__name__ = f"altseason_{n}"
    return f


def altseason_counts(c: FeatureContext, n: int) -> tuple[Series, Series]:
    """The Altcoin Season Index over the top ``n`` and the coins it counts (computed once)."""
    key = f"altseason_{n}"
    if key not in c.memo:
        c.memo[key] = altcoin_season(
            c.panel.close, c.panel.mcap, c.universe.btc, n, max_gap_days=c.max_gap_days
        )
    return c.memo[key]  # type: ignore[return-value]


def total2_share(c: FeatureContext) -> Series:
    total, btc, _, _ = _totals(c)
    return share(total - btc, total)


def total3_share(c: FeatureContext) -> Series:
    total, btc, eth, _ = _totals(c)
    return share(total - btc - eth, total)


def stable_dom(c: FeatureContext) -> Series:
    total, _, _, stable = _totals(c)
    if c.panel.stable_mcap is None:
        return np.full(c.panel.n_days, np.nan)
    return np.where(np.isfinite(c.panel.stable_mcap), share(stable, total), np.nan)


@_shared
def eth_btc(c: FeatureContext) -> Series:
    px = carry_forward(c.panel.close, c.max_gap_days)
    return share(px[:, c.universe.eth], px[:, c.universe.btc])


def eth_btc_chg_50d(c: FeatureContext) -> Series:
    return log_change(eth_btc(c), 50)


NONE: frozenset[str] = frozenset()
STABLES = frozenset({"stables"})  # needs stablecoin caps (dim_asset.is_stable)
REGISTRY: dict[str, FeatureSpec] = {
    s.name: s
    for s in [
        FeatureSpec("breadth_1d", breadth_1d, NONE, 1, "share of basket alts up on the day"),
        FeatureSpec("breadth_7d", breadth_7d, NONE, 7, "share of basket alts up over 7 days"),
        FeatureSpec("breadth_slope", breadth_slope, NONE, 20, "7d change of 7d-mean breadth_7d"),
        FeatureSpec("alt_median_ret_1d", alt_median_ret_1d, NONE, 1, "median basket return"),
        FeatureSpec("alt_dispersion_iqr", alt_dispersion_iqr, NONE, 1, "IQR of basket returns"),
        FeatureSpec("dispersion_slope", dispersion_slope, NONE, 14, "7d change of 7d-mean IQR"),
        FeatureSpec("btc_dom", btc_dom, NONE, 1, "BTC cap / total non-stable cap"),
        FeatureSpec("btc_dom_chg_1d", _dom_chg(1), NONE, 1, "1d change of btc_dom"),
        FeatureSpec("btc_dom_chg_5d", _dom_chg(5), NONE, 5, "5d change of btc_dom"),
        FeatureSpec("btc_dom_chg_20d", _dom_chg(20), NONE, 20, "20d change of btc_dom"),
        FeatureSpec(
            "funding_skew",
            funding_skew,
            frozenset({"funding"}),
            1,
            "median alt funding minus BTC/ETH funding",
        ),
        FeatureSpec(
            "funding_heating",
            funding_heating,
            frozenset({"funding"}),
            14,
            "3d minus 14d mean of funding_skew",
        ),
        FeatureSpec("alt_volume_rel", alt_volume_rel, NONE, 30, "basket volume / 30d median"),
        FeatureSpec(
            "alt_volume_high_share",
            alt_volume_high_share,
            NONE,
            30,
            "share of basket alts at a 30d volume high",
        ),
        FeatureSpec("alt_volume_share", alt_volume_share, NONE, 1, "basket share of volume"),
        FeatureSpec("vol_spread_7d", vol_spread_7d, NONE, 7, "7d vol of alt index minus BTC's"),
        FeatureSpec("alt_mom_3d", _alt_mom(3), NONE, 3, "median alt 3d return minus majors'"),
        FeatureSpec("alt_mom_7d", _alt_mom(7), NONE, 7, "median alt 7d return minus majors'"),
        FeatureSpec("alt_mom_20d", _alt_mom(20), NONE, 20, "median alt 20d return minus majors'"),
        FeatureSpec(
            "oi_change_7d",
            oi_change_7d,
            frozenset({"oi"}),
            7,
            "median alt 7d OI log change minus majors'",
        ),
        FeatureSpec("altseason_50", _altseason(50), NONE, 90, "% of top 50 beating BTC, 90d"),
        FeatureSpec("altseason_100", _altseason(100), NONE, 90, "the same over the top 100"),
        FeatureSpec("btc_dom_chg_30d", _dom_chg(30), NONE, 30, "30d change of btc_dom"),
        FeatureSpec("total2_share", total2_share, NONE, 1, "cap ex BTC / total cap"),
        FeatureSpec("total3_share", total3_share, NONE, 1, "cap ex BTC and ETH / total cap"),
        FeatureSpec("eth_btc", eth_btc, NONE, 1, "ETH close / BTC close"),
        FeatureSpec("eth_btc_chg_50d", eth_btc_chg_50d, NONE, 50, "50d log change of ETH/BTC"),
        FeatureSpec("stable_dom", stable_dom, STABLES, 1, "stablecoins' cap / total cap"),
    ]
}
if tuple(REGISTRY) != FEATURE_NAMES:  # the config's vocabulary and the code must agree
    raise ImportError(
        "market.features.REGISTRY and config.FEATURE_NAMES differ: "
        f"{sorted(set(REGISTRY) ^ set(FEATURE_NAMES))}; add a new feature to both"
    )


def cumulative_log_returns(panel: MarketPanel) -> tuple[Panel, Panel]:
    """Cumulative log returns (undefined returns count 0) and the cumulative count of undefined
    returns, so a k-day return is defined exactly when no return in ``(d-k, d]`` is undefined."""
    with np.errstate(invalid="ignore"):
        lr = np.log1p(panel.ret)
    ok = np.isfinite(lr)
    return np.cumsum(np.where(ok, lr, 0.0), axis=0), np.cumsum(~ok, axis=0).astype(np.float64)


def describe_definitions(definitions: dict[str, dict[str, object]]) -> list[str]:
    """One line per data-dependent feature definition (``FeatureSet.definitions``), as the
    console, the dashboard and the signal say it."""
    out = []
    d = definitions.get("funding_skew")
    if d:
        n_w, n_m = d["oi_weighted_days"], d["plain_mean_days"]
        if d["majors_funding"] == "plain mean":
            out.append(
                f"funding_skew: the majors' funding is the plain mean of BTC's and ETH's on all "
                f"{n_m} days (no open interest for both)"
            )
        else:
            out.append(
                f"funding_skew: the majors' funding is weighted by open interest on {n_w} days "
                f"({d['oi_weighted_from']}..{d['oi_weighted_to']})"
                + (f", the plain mean of BTC's and ETH's on {n_m}" if n_m else "")
            )
    return out


def compute_features(
    panel: MarketPanel,
    universe: Universe,
    *,
    zscore_window: int,
    zscore_min_periods: int,
    enabled: tuple[str, ...] | None = None,
    max_gap_days: int = 3,
) -> FeatureSet:
    """Every enabled feature and its rolling z-score for every day of the panel."""
    names = list(enabled or REGISTRY)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise KeyError(f"unknown features {unknown}; registered: {sorted(REGISTRY)}")
    have = {
        "funding": panel.has_funding,
        "oi": panel.has_oi,
        "stables": panel.stable_mcap is not None,
    }
    removed = [n for n in names if any(not have[k] for k in REGISTRY[n].needs)]
    warns, notes = [], []
    # a lake without stablecoin caps (most research lakes keep only the coins they trade) is
    # normal: stable_dom goes with a note, not a warning
    quiet = [n for n in removed if REGISTRY[n].needs == STABLES]
    loud = [n for n in removed if n not in quiet]
    if loud:
        missing = sorted({k for n in loud for k in REGISTRY[n].needs if not have[k]} - {"stables"})
        tables = {"funding": "fact_funding", "oi": "fact_open_interest"}
        warns.append(
            f"features {loud} removed: table(s) {[tables[m] for m in missing]} absent or empty"
        )
    if quiet:
        notes.append(
            f"features {quiet} removed: no market caps of stablecoins (dim_asset.is_stable) "
            "in the lake"
        )
    names = [n for n in names if n not in removed]
    ctx = FeatureContext(
        panel, universe, universe.basket, *cumulative_log_returns(panel), max_gap_days
    )
    raw = np.column_stack([REGISTRY[n].func(ctx) for n in names]).astype(np.float64)
    raw = np.where(np.isfinite(raw), raw, np.nan)
    empty = [n for j, n in enumerate(names) if not np.isfinite(raw[:, j]).any()]
    if empty:
        warns.append(
            f"features {empty} removed: no data in the window (their inputs are all missing)"
        )
        keep = [j for j, n in enumerate(names) if n not in empty]
        raw = raw[:, keep]
        names = [names[j] for j in keep]
        removed += empty
    z = (
        np.column_stack(
            [zscore(raw[:, j], zscore_window, zscore_min_periods) for j in range(raw.shape[1])]
        )
        if names
        else np.empty((panel.n_days, 0))
    )
    definitions: dict[str, dict[str, object]] = {}
    if "funding_skew" in names:
        d, w = funding_skew_definition(
            ctx.memo["funding_skew_oi_weighted"],  # type: ignore[arg-type]
            raw[:, names.index("funding_skew")],
            panel.dates,
        )
        definitions["funding_skew"] = d
        warns += [w] if w else []
    return FeatureSet(tuple(names), raw, z, tuple(removed), tuple(warns), definitions, tuple(notes))
