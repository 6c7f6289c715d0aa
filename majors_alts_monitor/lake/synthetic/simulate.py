"""The generator: one ``SyntheticLake`` (contract tables and truth) from a ``SyntheticSpec``,
deterministic for a seed and vectorised with numpy (see the package docstring for the model)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import polars as pl

from .model import (
    _ALT_SUFFIXES,
    _B,
    _F64,
    _I64,
    _SATS,
    _STABLES,
    _STRAY_STABLE,
    ALT_BETA_BTC,
    ALT_BETA_ETH,
    ALT_IDIO_VOL,
    BREADTH_FEW,
    BTC_DRIFT,
    BTC_VOL,
    COLLAPSE_DAYS,
    DELIST_DECAY,
    DELIST_DECAY_DAYS,
    DELIST_SHARE,
    DOMINANCE_EMA_ALPHA,
    ETH_DRIFT,
    ETH_IDIO_VOL,
    ETH_ON_BTC,
    FUNDED_SHARE,
    FUNDING_BASE_8H,
    FUNDING_LEAN_8H,
    FUNDING_NOISE_8H,
    FUNDING_PHI,
    LATE_LIST_SHARE,
    LEAN_EMA_ALPHA,
    MAJOR_FUNDING_NOISE_8H,
    REGIMES,
    RETURN_FLOOR,
    SPREAD_DRIFT,
    TURNOVER_LEAN_ALTS,
    TURNOVER_LEAN_MAJORS,
    VOL_CLUSTER_PHI,
    VOL_CLUSTER_SD,
    Design,
    SyntheticLake,
    SyntheticSpec,
    Truth,
    _ar1,
    _ema,
    _rng,
    _t_noise,
)

# --- the generator ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Universe:
    names: list[str]  # internal order: BTC, ETH, alts (1000SATS last), USDT, USDC, FDUSD
    display: list[str]
    is_stable_flag: list[bool]
    n_alts: int
    first: _I64  # first active day per asset
    last: _I64  # last active day per asset
    funded: _B
    funding_start: _I64
    fate: list[str]
    collapse: int  # column index of the collapsing alt
    delisted: _B


def _universe(spec: SyntheticSpec) -> _Universe:
    rng = _rng(spec.seed, 1)
    n_days = spec.n_days
    n_alts = spec.n_assets - 2
    width = max(3, len(str(n_alts - 1)))
    alt_names = [f"ALT{i:0{width}d}" for i in range(1, n_alts)] + [_SATS]
    names = ["BTC", "ETH", *alt_names] + [s[0] for s in _STABLES] + [_STRAY_STABLE[0]]
    display = (
        ["Bitcoin", "Ethereum"]
        + [f"Alt Coin {i:0{width}d}" for i in range(1, n_alts)]
        + ["SATS (1000x)"]
        + [s[1] for s in _STABLES]
        + [_STRAY_STABLE[1]]
    )
    flags = [False] * spec.n_assets + [s[2] for s in _STABLES] + [_STRAY_STABLE[2]]
    n_all = len(names)
    alt_cols = np.arange(2, 2 + n_alts)
    sats = 2 + n_alts - 1

    first = np.zeros(n_all, dtype=np.int64)
    last = np.full(n_all, n_days - 1, dtype=np.int64)
    fate = ["alive"] * n_all

    # exactly one collapse, listed from the start; 1000SATS trades (with a perp) throughout
    candidates = alt_cols[alt_cols != sats]
    perm = rng.permutation(candidates)
    collapse = int(perm[0])
    rest = perm[1:]
    n_late = max(1, round(LATE_LIST_SHARE * n_alts))
    n_del = max(1, round(DELIST_SHARE * n_alts))
    late = rest[:n_late]
    lo, hi = max(1, int(0.05 * n_days)), max(2, int(0.6 * n_days))
    first[late] = rng.integers(lo, hi, size=len(late))

    delisted_cols = rng.choice(rest, size=min(n_del, len(rest)), replace=False)
    min_life = max(30, int(0.15 * n_days))
    d_lo = first[delisted_cols] + min_life
    d_hi = np.maximum(d_lo + 1, n_days - 2)
    last[delisted_cols] = np.minimum(rng.integers(d_lo, d_hi), n_days - 2)
    for c in delisted_cols:
        fate[c] = "delisted"

    c0 = int(rng.integers(int(0.3 * n_days), int(0.7 * n_days)))
    last[collapse] = c0 + COLLAPSE_DAYS - 1
    fate[collapse] = "collapsed"

    # the stray stable lists late
    first[n_all - 1] = int(0.6 * n_days)

    # funding: BTC, ETH, 1000SATS and ~70% of alts; 40% of funded alts start late
    funded = np.zeros(n_all, dtype=bool)
    funded[[0, 1, sats]] = True
    draw = rng.random(n_alts) < FUNDED_SHARE
    funded[alt_cols] |= draw
    funding_start = first.copy()
    late_perp = funded & (rng.random(n_all) < 0.4)
    late_perp[[0, 1, sats]] = False
    late_perp[2 + n_alts :] = False
    funding_start[late_perp] += rng.integers(30, 366, size=int(late_perp.sum()))
    funded &= funding_start <= last - 5
    funded[2 + n_alts :] = False

    delisted = np.zeros(n_all, dtype=bool)
    delisted[delisted_cols] = True
    return _Universe(
        names=names,
        display=display,
        is_stable_flag=flags,
        n_alts=n_alts,
        first=first,
        last=last,
        funded=funded,
        funding_start=funding_start,
        fate=fate,
        collapse=collapse,
        delisted=delisted,
    )


def _regimes(spec: SyntheticSpec) -> npt.NDArray[np.int64]:
    rng = _rng(spec.seed, 2)
    n = spec.n_days
    switch = rng.random(n) < (1.0 - spec.design.stay_prob)
    switch[0] = False
    jumps = np.where(switch, rng.integers(1, 3, size=n), 0)
    start = int(rng.integers(0, 3))
    return (start + np.cumsum(jumps)) % 3


def _spread_drift(design: Design) -> tuple[float, float, float]:
    """The spread factor's mean per regime (``SPREAD_DRIFT`` for the baseline's drift)."""
    if design.drift == SPREAD_DRIFT[2]:
        return SPREAD_DRIFT
    return (-design.drift, 0.0, design.drift)


def _signed(regime: npt.NDArray[np.int64]) -> _F64:
    """+1 in RISK_ON_ALTS, 0 in BALANCED, -1 in RISK_ON_MAJORS."""
    return (regime - 1).astype(np.float64)


def generate(spec: SyntheticSpec) -> SyntheticLake:
    """Generate a lake and its truth. Deterministic for ``spec`` (see the module docstring)."""
    n_days = spec.n_days
    planted = spec.world == "planted"
    design = spec.design
    uni = _universe(spec)
    n_all = len(uni.names)
    n_alts = uni.n_alts
    alts = slice(2, 2 + n_alts)
    stables = slice(2 + n_alts, n_all)
    t_idx = np.arange(n_days)[:, np.newaxis]
    active = (t_idx >= uni.first) & (t_idx <= uni.last)

    regime = _regimes(spec)
    one_hot_lean = np.eye(3)[regime]  # (n_days, 3)

    # --- returns -----------------------------------------------------------------------------
    rng = _rng(spec.seed, 3)
    vol_level = np.exp(
        _ar1(rng.standard_normal(n_days), VOL_CLUSTER_PHI, VOL_CLUSTER_SD) - VOL_CLUSTER_SD**2
    )
    r_btc = BTC_DRIFT + BTC_VOL * vol_level * _t_noise(rng, n_days)
    r_eth = ETH_DRIFT + ETH_ON_BTC * r_btc + ETH_IDIO_VOL * vol_level * _t_noise(rng, n_days)
    mu = np.asarray(_spread_drift(design))[regime] if planted else np.zeros(n_days)
    spread = mu + design.spread_vol * vol_level * _t_noise(rng, n_days)
    # the volatility channel: alts' idiosyncratic moves wilder in RISK_ON_MAJORS, calmer in
    # RISK_ON_ALTS (the spread's own noise, the book's risk, is left alone)
    alt_vol = vol_level
    if planted and design.volatility:
        alt_vol = vol_level * np.exp(design.volatility * _ema(-_signed(regime), LEAN_EMA_ALPHA))

    rng = _rng(spec.seed, 4)
    beta_btc = rng.uniform(*ALT_BETA_BTC, size=n_alts)
    beta_eth = rng.uniform(*ALT_BETA_ETH, size=n_alts)
    idio_vol = rng.uniform(*ALT_IDIO_VOL, size=n_alts)
    eps = idio_vol * alt_vol[:, np.newaxis] * _t_noise(rng, (n_days, n_alts))
    if planted and design.breadth:
        # the breadth channel: most alts drift with the regime and a few (BREADTH_FEW) move
        # hard the other way, so the median alt (breadth, median returns) leans and the mean
        # (the basket's return, the edge) does not
        few = _rng(spec.seed, 12).random((n_days, n_alts)) < BREADTH_FEW
        shift = design.breadth * _signed(regime)[:, np.newaxis] * vol_level[:, np.newaxis]
        eps = eps + shift * (1.0 - few / BREADTH_FEW)

    ret = np.zeros((n_days, n_all))
    ret[:, 0] = r_btc
    ret[:, 1] = r_eth
    ret[:, alts] = (
        np.outer(r_btc, beta_btc) + np.outer(r_eth, beta_eth) + spread[:, np.newaxis] + eps
    )
    # delisters fade before they go
    to_end = uni.last - t_idx
    fading = uni.delisted & (to_end >= 0) & (to_end < DELIST_DECAY_DAYS)
    ret -= DELIST_DECAY * fading
    ret = np.maximum(ret, RETURN_FLOOR)
    # the collapse
    rng = _rng(spec.seed, 5)
    c = uni.collapse
    c0 = int(uni.last[c]) - COLLAPSE_DAYS + 1
    total = rng.uniform(np.log(0.002), np.log(0.005))
    weights = rng.dirichlet(np.full(COLLAPSE_DAYS, 4.0))
    ret[c0 : c0 + COLLAPSE_DAYS, c] = np.expm1(total * weights)

    # --- prices ------------------------------------------------------------------------------
    rng = _rng(spec.seed, 6)
    p0 = np.empty(n_all)
    p0[0], p0[1] = 3800.0, 135.0
    p0[alts] = 10.0 ** rng.uniform(-4.0, 2.5, size=n_alts)
    p0[stables] = 1.0
    cum = np.cumsum(np.log1p(ret), axis=0)
    log_close = np.log(p0) + cum - cum[uni.first, np.arange(n_all)]
    close = np.exp(log_close)
    stable_noise = _ar1(rng.standard_normal((n_days, 3)), 0.5, 0.0005)
    close[:, stables] = 1.0 + np.clip(stable_noise, -0.03, 0.03)

    # --- market caps -------------------------------------------------------------------------
    rng = _rng(spec.seed, 7)
    cap0 = np.ones(n_all)
    cap0[0], cap0[1] = 3800.0 * 17.45e6, 135.0 * 104.0e6
    cap0[alts] = 10.0 ** np.clip(rng.normal(8.9, 0.6, size=n_alts), 7.5, 10.3)
    growth = np.zeros(n_all)
    growth[0], growth[1] = 0.017, 0.02
    growth[alts] = rng.uniform(0.0, 0.15, size=n_alts)
    supply0 = cap0 / p0
    years = (t_idx - uni.first) / 365.0
    supply = supply0 * np.exp(growth * years)
    caps = close * supply
    # ordering: BTC > ETH > every alt, every day
    ratio_eth = float(np.max(caps[:, 1] / caps[:, 0]))
    if ratio_eth > 0.6:
        caps[:, 1] *= 0.6 / ratio_eth
    alt_ratio = np.where(active[:, alts], caps[:, alts] / caps[:, [1]], -np.inf).max(axis=0)
    caps[:, alts] *= np.minimum(1.0, 0.6 / alt_ratio)
    stable_cap0 = np.array([4.0e9, 0.5e9, 0.6e9])
    stable_growth = np.array([0.5, 0.55, 0.6])
    stable_supply = stable_cap0 * np.exp(
        stable_growth * years[:, stables] + _ar1(rng.standard_normal((n_days, 3)), 0.99, 0.05)
    )
    caps[:, stables] = close[:, stables] * stable_supply

    # the dominance channel: the alts' reported circulating supply swells in RISK_ON_ALTS
    # (unlocks, new listings) and shrinks in RISK_ON_MAJORS, moving fact_marketcap (and so
    # dominance and the totals) but not prices, volumes or open interest; at most x e^lean, so
    # an alt stays below ETH (<= 0.6 ETH before it)
    reported = caps
    if planted and design.dominance:
        reported = caps.copy()
        reported[:, alts] *= np.exp(
            design.dominance * _ema(_signed(regime), DOMINANCE_EMA_ALPHA)[:, np.newaxis]
        )

    # --- turnover, volume, open interest ----------------------------------------------------
    rng = _rng(spec.seed, 8)
    lean_alts = one_hot_lean @ (np.asarray(TURNOVER_LEAN_ALTS) * design.volume)
    lean_majors = one_hot_lean @ (np.asarray(TURNOVER_LEAN_MAJORS) * design.volume)
    if not planted:
        lean_alts = np.zeros(n_days)
        lean_majors = np.zeros(n_days)
    lean = np.zeros((n_days, n_all))
    lean[:, :2] = _ema(lean_majors, LEAN_EMA_ALPHA)[:, np.newaxis]
    lean[:, alts] = _ema(lean_alts, LEAN_EMA_ALPHA)[:, np.newaxis]
    base_turn = np.empty(n_all)
    base_turn[0], base_turn[1] = 0.025, 0.035
    base_turn[alts] = 0.04 * np.exp(0.5 * rng.standard_normal(n_alts))
    base_turn[stables] = (0.7, 0.15, 0.5)
    turn_noise = _ar1(rng.standard_normal((n_days, n_all)), 0.7, 0.35)
    turnover = base_turn * np.exp(lean + turn_noise - 0.5 * 0.35**2) * (1.0 + 8.0 * np.abs(ret))
    turnover[:, stables] = base_turn[stables] * np.exp(turn_noise[:, stables] - 0.5 * 0.35**2)
    volume = caps * turnover

    oi_frac = np.zeros(n_all)
    oi_frac[0], oi_frac[1] = 0.02, 0.03
    oi_frac[alts] = 0.04 * np.exp(0.5 * rng.standard_normal(n_alts))
    oi_noise = _ar1(rng.standard_normal((n_days, n_all)), 0.95, 0.15)
    open_interest = caps * oi_frac * np.exp(oi_noise + 0.5 * lean)

    # --- funding -----------------------------------------------------------------------------
    rng = _rng(spec.seed, 9)
    f_lean = (
        one_hot_lean @ (np.asarray(FUNDING_LEAN_8H) * design.funding)
        if planted
        else np.zeros(n_days)
    )
    f_lean = _ema(f_lean, LEAN_EMA_ALPHA)
    sensitivity = np.zeros(n_all)
    sensitivity[alts] = rng.uniform(0.5, 1.5, size=n_alts)
    noise_sd = np.full(n_all, FUNDING_NOISE_8H)
    noise_sd[:2] = MAJOR_FUNDING_NOISE_8H
    f_noise = _ar1(_t_noise(rng, (n_days, n_all)), FUNDING_PHI, 1.0) * noise_sd
    funding = 3.0 * (FUNDING_BASE_8H + np.outer(f_lean, sensitivity) + f_noise)
    funding[c0 : c0 + COLLAPSE_DAYS, c] = 3.0 * (-0.001 + f_noise[c0 : c0 + COLLAPSE_DAYS, c])
    funded_mask = uni.funded & (t_idx >= uni.funding_start) & (t_idx <= uni.last)

    # --- quirk masks -------------------------------------------------------------------------
    price_mask = active.copy()
    volume_mask = active.copy()
    funding_mask = funded_mask.copy()
    if "gaps" in spec.quirks:
        rng = _rng(spec.seed, 10)
        inner = active & (t_idx > uni.first) & (t_idx < uni.last)
        cells = np.flatnonzero(inner)
        n_gaps = min(len(cells), max(3, int(0.001 * active.sum())))
        gap = np.zeros(active.size, dtype=bool)
        gap[rng.choice(cells, size=n_gaps, replace=False)] = True
        gap = gap.reshape(active.shape)
        price_mask &= ~gap
        volume_mask &= ~gap
    if "ragged_ends" in spec.quirks:
        volume_mask &= t_idx <= n_days - 3
        funding_mask &= t_idx <= n_days - 6

    # --- long frames -------------------------------------------------------------------------
    order = np.argsort(np.asarray(uni.names), kind="stable")
    names = pl.Series("asset_id", uni.names, dtype=pl.String)
    day0 = (spec.start - date(1970, 1, 1)).days

    def long(mask: _B, values: dict[str, _F64], id_names: pl.Series = names) -> pl.DataFrame:
        a_pos, d_idx = np.nonzero(mask[:, order].T)
        cols = order[a_pos]
        data: dict[str, pl.Series] = {
            "asset_id": id_names.gather(cols),
            "date": pl.Series("date", (d_idx + day0).astype(np.int32)).cast(pl.Date),
        }
        for key, panel in values.items():
            data[key] = pl.Series(key, panel[d_idx, cols], dtype=pl.Float64)
        return pl.DataFrame(data)

    tables: dict[str, pl.DataFrame] = {
        "fact_price": long(price_mask, {"close": close}),
        "fact_marketcap": long(price_mask, {"marketcap": reported}),
        "fact_volume": long(volume_mask, {"volume": volume}),
    }
    upstream = names
    if "spellings" in spec.quirks:
        upstream = pl.Series("asset_id", _upstream_spellings(uni.names), dtype=pl.String)
    fund = long(funding_mask, {"funding_rate": funding}, upstream)
    instruments = pl.Series("instrument_id", [f"{n}USDT" for n in uni.names], dtype=pl.String)
    a_pos, _ = np.nonzero(funding_mask[:, order].T)
    fund = fund.insert_column(1, instruments.gather(order[a_pos]))
    tables["fact_funding"] = fund
    tables["fact_open_interest"] = long(funded_mask, {"open_interest_usd": open_interest}, upstream)
    tables["dim_asset"] = pl.DataFrame(
        {
            "asset_id": [uni.names[i] for i in order],
            "symbol": [uni.names[i] for i in order],
            "name": [uni.display[i] for i in order],
            "is_stable": [uni.is_stable_flag[i] for i in order],
        },
        schema={
            "asset_id": pl.String,
            "symbol": pl.String,
            "name": pl.String,
            "is_stable": pl.Boolean,
        },
    )
    if "duplicates" in spec.quirks:
        rng = _rng(spec.seed, 11)
        for name in ("fact_price", "fact_volume"):
            df = tables[name]
            n = df.height
            extra = rng.choice(n, size=max(3, int(0.005 * n)), replace=False)
            idx = np.sort(np.concatenate([np.arange(n), extra]), kind="stable")
            tables[name] = df[idx]

    # --- truth -------------------------------------------------------------------------------
    dates = pl.Series("date", np.arange(day0, day0 + n_days, dtype=np.int32)).cast(pl.Date)
    regimes = pl.DataFrame(
        {
            "date": dates,
            "regime": pl.Series("regime", np.asarray(REGIMES)[regime], dtype=pl.String),
            "spread_drift": pl.Series("spread_drift", mu, dtype=pl.Float64),
        }
    )
    spread_df = pl.DataFrame(
        {"date": dates, "spread_return": pl.Series("spread_return", spread, dtype=pl.Float64)}
    )
    b_btc = np.zeros(n_all)
    b_eth = np.zeros(n_all)
    b_btc[0], b_eth[1] = 1.0, 1.0
    b_btc[alts], b_eth[alts] = beta_btc, beta_eth
    betas = pl.DataFrame(
        {
            "asset_id": names.gather(order),
            "beta_btc": pl.Series(b_btc[order], dtype=pl.Float64),
            "beta_eth": pl.Series(b_eth[order], dtype=pl.Float64),
        }
    )
    f_start = np.where(uni.funded, uni.funding_start, -1)[order]
    lifecycle = pl.DataFrame(
        {
            "asset_id": names.gather(order),
            "first_date": pl.Series((uni.first[order] + day0).astype(np.int32)).cast(pl.Date),
            "last_date": pl.Series((uni.last[order] + day0).astype(np.int32)).cast(pl.Date),
            "funding_start": pl.Series(
                [int(s + day0) if s >= 0 else None for s in f_start], dtype=pl.Int32
            ).cast(pl.Date),
            "fate": pl.Series([uni.fate[i] for i in order], dtype=pl.String),
        }
    )
    truth = Truth(regimes=regimes, spread=spread_df, betas=betas, lifecycle=lifecycle)
    return SyntheticLake(spec=spec, tables=tables, truth=truth)


def _upstream_spellings(names: list[str]) -> list[str]:
    """Exchange spellings of canonical ids, as a venue would write them."""
    out = []
    for name in names:
        if name == "BTC":
            out.append("BTCUSDT")
        elif name == "ETH":
            out.append("ETH-PERP")
        elif name == _SATS:
            out.append("SATS")
        elif name.startswith("ALT"):
            out.append(name + _ALT_SUFFIXES[int(name[3:]) % len(_ALT_SUFFIXES)])
        else:
            out.append(name)
    return out
