"""Synthetic lakes with planted truth, for tests and the demo.

A synthetic lake follows ``docs/LAKE_CONTRACT.md`` table for table, and comes with the truth
it was generated from, so that every stage of the pipeline can be checked for recovering it.
Generation is deterministic for a seed (same spec -> identical frames -> byte-identical
parquet files) and fully vectorised with numpy: a 1,000-asset x 8-year lake takes seconds.

The market model
----------------
Calendar: every UTC day from ``spec.start`` to ``spec.end`` inclusive, index ``t``.

Hidden regime ``g_t`` in (RISK_ON_MAJORS, BALANCED, RISK_ON_ALTS): a Markov chain that stays
with probability ``STAY_PROB`` = 0.985 a day (mean spell ~67 days) and otherwise jumps to one of
the two other states with equal probability. The first state is drawn from the seed.

Return noise is Student t with ``T_DF`` = 4 degrees of freedom, rescaled to unit variance, and
multiplied by a market-wide volatility level ``v_t`` = exp(AR(1), phi 0.98, sd 0.2) normalised
so that E[v_t^2] = 1 (volatility clustering that leaves the stated vols as averages).

- BTC: ``r_btc = 0.001 + 3.5% * v_t * z``.
- ETH: ``r_eth = 0.0005 + 0.9 * r_btc + 3.4% * v_t * z`` (daily vol ~4.6%, corr with BTC ~0.68).
- Spread factor (alt-vs-majors): ``s_t = mu(g_t) + 1.2% * v_t * z`` with
  ``mu`` = -0.004 (RISK_ON_MAJORS), 0 (BALANCED), +0.004 (RISK_ON_ALTS): a book short alts
  and hedged to BTC/ETH earns in RISK_ON_MAJORS and loses in RISK_ON_ALTS.
- Alt i: ``r_i = beta_btc_i * r_btc + beta_eth_i * r_eth + s_t + eps_i``, with
  ``beta_btc ~ U(0.3, 1.3)``, ``beta_eth ~ U(0.0, 0.9)`` (constant, recorded in the truth) and
  ``eps_i = sigma_i * v_t * z``, ``sigma_i ~ U(1.8%, 2.8%)``. A joint OLS (with intercept) of
  alt returns on BTC and ETH over 90-day windows recovers the betas with a median absolute
  error of about 0.075 (beta_btc) and 0.055 (beta_eth) over a 7-year lake. In a 2-year lake it
  ranges 0.06-0.10 across seeds: the spread noise is common to all alts, so a window's
  estimation error is shared by every alt and does not average out across assets.
  Simple returns are floored at -90% (in practice never binding outside the collapse).
- Stablecoins USDT, USDC (flagged ``is_stable``) and FDUSD (not flagged: a stray stable the
  config's exclude list must catch; it lists at 60% of the span): close = 1 + AR(1) noise of
  ~5 bp, market caps growing ~50%/year from billions, turnover 15-70% a day.

Market cap = close x circulating supply. Supplies are lognormal across assets (caps span
about 3e7..2e10 USD at listing, median 8e8) and drift upward 0-15% a year (BTC 1.7%, ETH 2%). Supplies are then
scaled down where needed so that every day BTC has the largest cap, ETH the second largest,
among non-stable assets (ETH <= 0.6 BTC, each alt <= 0.6 ETH).

Volume = market cap x turnover; turnover = base_i (lognormal, median 4% for alts, 2.5% BTC,
3.5% ETH) x exp(AR(1) noise, sd 0.35) x (1 + 8 |r_i,t|) x exp(lean). The lean is smoothed
(EMA, ~5-day half-life) and, for alts, +0.35 in RISK_ON_ALTS, -0.15 in RISK_ON_MAJORS (majors
+0.10 in RISK_ON_MAJORS).

Funding (the day's sum of three 8h settlements, positive = longs pay): about 70% of alts
have a perp (``ALT001USDT``); 40% of those list the perp 30-365 days after spot. Alts:
``3 * (0.0001 + k_i * lean(g_t) + AR(1) noise)`` per day, lean per 8h = -0.00005
(RISK_ON_MAJORS), 0, +0.0002 (RISK_ON_ALTS), EMA-smoothed, k_i ~ U(0.5, 1.5); noise AR(1)
phi 0.9, sd 0.00008 per 8h, t-distributed innovations. BTC/ETH: ``3 * (0.0001 + noise)``
(~0.0003/day). Open interest: for assets with funding, market cap x fraction (lognormal,
median 4% for alts, 2% BTC, 3% ETH) x exp(AR(1) noise + half the turnover lean).

Life cycle: about a third of alts list after the start (rows begin later); about 10% delist
before the end (their last 90 days drift down 0.3%/day, then rows stop); exactly one alt,
listed from the start, collapses: its price falls 99.5-99.8% over 10 days (funding turns
deeply negative) and then its rows stop. Delisted assets are present while they trade.

The null world uses the very same random draws, but ``mu = 0`` in every state and neither
funding, volume nor open interest lean with the regime: no edge by construction. The truth
still records the (irrelevant) hidden regime, with ``spread_drift = 0``.

Quirks (only when asked, see ``QUIRKS``): ``duplicates`` repeats ~0.5% of fact_price and
fact_volume rows exactly; ``gaps`` removes ~0.1% of (asset, day) cells (never an asset's first
or last day) from fact_price, fact_marketcap and fact_volume; ``ragged_ends`` ends fact_volume
2 days and fact_funding 5 days before fact_price; ``spellings`` writes fact_funding and
fact_open_interest asset_ids in upstream spellings (``BTCUSDT``, ``ETH-PERP``, ``SATS``,
``ALT003USDT``, ``ALT001-PERP``...).
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Final, Literal, get_args

import numpy as np
import numpy.typing as npt
import polars as pl

from majors_alts_monitor.errors import OutputLocationError

__all__ = [
    "QUIRKS",
    "REGIMES",
    "SyntheticLake",
    "SyntheticSpec",
    "Truth",
    "World",
    "generate",
    "synth_command",
    "write_lake",
]

World = Literal["planted", "null"]
QUIRKS: Final[frozenset[str]] = frozenset({"duplicates", "gaps", "ragged_ends", "spellings"})
REGIMES: Final[tuple[str, str, str]] = ("RISK_ON_MAJORS", "BALANCED", "RISK_ON_ALTS")

# --- model parameters (documented in the module docstring) ---------------------------------
STAY_PROB: Final = 0.985
T_DF: Final = 4.0
VOL_CLUSTER_PHI: Final = 0.98
VOL_CLUSTER_SD: Final = 0.2
BTC_VOL: Final = 0.035
BTC_DRIFT: Final = 0.001
ETH_ON_BTC: Final = 0.9
ETH_IDIO_VOL: Final = 0.034
ETH_DRIFT: Final = 0.0005
ALT_BETA_BTC: Final = (0.3, 1.3)
ALT_BETA_ETH: Final = (0.0, 0.9)
ALT_IDIO_VOL: Final = (0.018, 0.028)
SPREAD_VOL: Final = 0.012
SPREAD_DRIFT: Final = (-0.004, 0.0, 0.004)  # per REGIMES
RETURN_FLOOR: Final = -0.9
FUNDING_BASE_8H: Final = 0.0001
FUNDING_LEAN_8H: Final = (-0.00005, 0.0, 0.0002)  # per REGIMES, alts
FUNDING_NOISE_8H: Final = 0.00008
MAJOR_FUNDING_NOISE_8H: Final = 0.00004
FUNDING_PHI: Final = 0.9
TURNOVER_LEAN_ALTS: Final = (-0.15, 0.0, 0.35)  # log turnover, per REGIMES
TURNOVER_LEAN_MAJORS: Final = (0.10, 0.0, 0.0)
LEAN_EMA_ALPHA: Final = 0.13  # ~5-day half-life
FUNDED_SHARE: Final = 0.7
LATE_LIST_SHARE: Final = 1 / 3
DELIST_SHARE: Final = 0.10
DELIST_DECAY_DAYS: Final = 90
DELIST_DECAY: Final = 0.003
COLLAPSE_DAYS: Final = 10

GENERATOR: Final = "majors_alts_monitor.synthetic"
GENERATOR_VERSION: Final = 1
_SPEC_FILE: Final = "spec.json"

_STABLES: Final = (("USDT", "Tether", True), ("USDC", "USD Coin", True))
_STRAY_STABLE: Final = ("FDUSD", "First Digital USD", False)
_SATS: Final = "1000SATS"
_ALT_SUFFIXES: Final = ("", "-PERP", "PERP", "USDT", "-USDT", "USD")
_FACT_TABLES: Final = (
    "fact_price",
    "fact_marketcap",
    "fact_volume",
    "fact_funding",
    "fact_open_interest",
)

_F64 = npt.NDArray[np.float64]
_I64 = npt.NDArray[np.int64]
_B = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class SyntheticSpec:
    """What to generate. ``n_assets`` counts alts + BTC + ETH; three stablecoins come extra."""

    n_assets: int = 60
    start: datetime.date = date(2019, 1, 1)
    end: datetime.date = date(2026, 1, 8)  # inclusive
    world: World = "planted"
    seed: int = 0
    quirks: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "quirks", frozenset(self.quirks))
        for name in ("start", "end"):
            value = getattr(self, name)
            if isinstance(value, datetime.datetime):
                object.__setattr__(self, name, value.date())
            elif not isinstance(value, date):
                raise ValueError(f"SyntheticSpec.{name} must be a date, got {value!r}")
        if not isinstance(self.n_assets, int) or self.n_assets < 8:
            raise ValueError(f"SyntheticSpec.n_assets must be an int >= 8, got {self.n_assets!r}")
        if self.n_days < 120:
            raise ValueError(
                f"SyntheticSpec needs at least 120 days from start to end, got {self.n_days}"
            )
        if self.world not in get_args(World):
            raise ValueError(f"SyntheticSpec.world must be 'planted' or 'null', got {self.world!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"SyntheticSpec.seed must be a non-negative int, got {self.seed!r}")
        unknown = self.quirks - QUIRKS
        if unknown:
            raise ValueError(f"unknown quirks {sorted(unknown)}; choose from {sorted(QUIRKS)}")

    @property
    def n_days(self) -> int:
        return (self.end - self.start).days + 1

    def to_json(self) -> dict[str, object]:
        return {
            "n_assets": self.n_assets,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "world": self.world,
            "seed": self.seed,
            "quirks": sorted(self.quirks),
        }


def _empty_lifecycle() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "asset_id": pl.String,
            "first_date": pl.Date,
            "last_date": pl.Date,
            "funding_start": pl.Date,
            "fate": pl.String,
        }
    )


@dataclass(frozen=True)
class Truth:
    """What the lake was generated from.

    ``regimes``: date, regime (one of ``REGIMES``), spread_drift (mu of the day; 0 in null).
    ``spread``: date, spread_return (the alt-vs-majors factor's daily return s_t).
    ``betas``: asset_id, beta_btc, beta_eth (constant; BTC (1, 0), ETH (0, 1), stables (0, 0)).
    ``lifecycle``: asset_id, first_date, last_date (rows in fact_price), funding_start (null
    without funding), fate (``alive``, ``delisted``, ``collapsed``).
    """

    regimes: pl.DataFrame
    spread: pl.DataFrame
    betas: pl.DataFrame
    lifecycle: pl.DataFrame = field(default_factory=_empty_lifecycle)


@dataclass(frozen=True)
class SyntheticLake:
    spec: SyntheticSpec
    tables: dict[str, pl.DataFrame]
    truth: Truth


# --- random helpers ---------------------------------------------------------------------------


def _rng(seed: int, stream: int) -> np.random.Generator:
    """An independent generator per model component, so components never shift each other."""
    return np.random.default_rng(np.random.SeedSequence([seed, stream]))


def _t_noise(rng: np.random.Generator, size: int | tuple[int, ...]) -> _F64:
    """Student t draws rescaled to unit variance."""
    return rng.standard_t(T_DF, size) / np.sqrt(T_DF / (T_DF - 2.0))


def _ar1(innov: _F64, phi: float, sd: float) -> _F64:
    """Stationary AR(1) along axis 0 with stationary sd ``sd`` driven by unit innovations."""
    e = innov * (sd * np.sqrt(1.0 - phi * phi))
    e[0] = innov[0] * sd
    from scipy.signal import lfilter  # here: scipy.signal pulls in scipy.stats (~1 s) on import

    return np.asarray(lfilter([1.0], [1.0, -phi], e, axis=0), dtype=np.float64)


def _ema(x: _F64, alpha: float) -> _F64:
    """Exponential smoothing along axis 0, started at the first value."""
    zi = ((1.0 - alpha) * x[0])[np.newaxis, ...]
    from scipy.signal import lfilter

    y, _ = lfilter([alpha], [1.0, -(1.0 - alpha)], x, axis=0, zi=zi)
    return np.asarray(y, dtype=np.float64)


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
    switch = rng.random(n) < (1.0 - STAY_PROB)
    switch[0] = False
    jumps = np.where(switch, rng.integers(1, 3, size=n), 0)
    start = int(rng.integers(0, 3))
    return (start + np.cumsum(jumps)) % 3


def generate(spec: SyntheticSpec) -> SyntheticLake:
    """Generate a lake and its truth. Deterministic for ``spec`` (see the module docstring)."""
    n_days = spec.n_days
    planted = spec.world == "planted"
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
    mu = np.asarray(SPREAD_DRIFT)[regime] if planted else np.zeros(n_days)
    spread = mu + SPREAD_VOL * vol_level * _t_noise(rng, n_days)

    rng = _rng(spec.seed, 4)
    beta_btc = rng.uniform(*ALT_BETA_BTC, size=n_alts)
    beta_eth = rng.uniform(*ALT_BETA_ETH, size=n_alts)
    idio_vol = rng.uniform(*ALT_IDIO_VOL, size=n_alts)
    eps = idio_vol * vol_level[:, np.newaxis] * _t_noise(rng, (n_days, n_alts))

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

    # --- turnover, volume, open interest ----------------------------------------------------
    rng = _rng(spec.seed, 8)
    lean_alts = one_hot_lean @ np.asarray(TURNOVER_LEAN_ALTS)
    lean_majors = one_hot_lean @ np.asarray(TURNOVER_LEAN_MAJORS)
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
    f_lean = one_hot_lean @ np.asarray(FUNDING_LEAN_8H) if planted else np.zeros(n_days)
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
        "fact_marketcap": long(price_mask, {"marketcap": caps}),
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


# --- writing ----------------------------------------------------------------------------------


def _write_parquet(df: pl.DataFrame, path: Path) -> None:
    """Write to a temporary name beside ``path``, then rename into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        df.write_parquet(tmp, statistics=True)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _is_ours(out_dir: Path) -> bool:
    spec_file = out_dir / "truth" / _SPEC_FILE
    try:
        return json.loads(spec_file.read_text()).get("generator") == GENERATOR
    except (OSError, ValueError, AttributeError):
        return False


def write_lake(
    lake: SyntheticLake, out_dir: Path, *, partitioned: bool = False
) -> tuple[Path, Path]:
    """Writes tables to out_dir/'lake' and truth to out_dir/'truth' (beside the lake, never inside it).

    partitioned=True writes each fact table as a hive folder NAME/year=YYYY/part-0.parquet;
    otherwise NAME.parquet. Returns (lake_dir, truth_dir). Files are written to a temp name and
    renamed (atomic): the whole lake is built in a hidden staging folder inside ``out_dir`` and
    renamed into place, so a reader never sees half a lake. An existing ``lake``/``truth`` pair
    is replaced only if it was written by this generator; anything else is refused.
    """
    out_dir = Path(out_dir)
    lake_dir, truth_dir = out_dir / "lake", out_dir / "truth"
    for d in (lake_dir, truth_dir):
        if d.exists() and (not d.is_dir() or (any(d.iterdir()) and not _is_ours(out_dir))):
            raise OutputLocationError(
                f"{d} exists and was not written by the synthetic generator; "
                "choose an empty or new output folder"
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".synth-staging-", dir=out_dir))
    try:
        new_lake, new_truth = stage / "lake", stage / "truth"
        new_lake.mkdir()
        new_truth.mkdir()
        for name, df in lake.tables.items():
            if partitioned and name in _FACT_TABLES:
                years = df.get_column("date").dt.year()
                for year in years.unique().sort().to_list():
                    part = df.filter(years == year)
                    _write_parquet(part, new_lake / name / f"year={year}" / "part-0.parquet")
            else:
                _write_parquet(df, new_lake / f"{name}.parquet")
        truth = lake.truth
        for name, df in (
            ("regimes", truth.regimes),
            ("spread", truth.spread),
            ("betas", truth.betas),
            ("lifecycle", truth.lifecycle),
        ):
            _write_parquet(df, new_truth / f"{name}.parquet")
        meta = {
            "generator": GENERATOR,
            "generator_version": GENERATOR_VERSION,
            "partitioned": partitioned,
            "spec": lake.spec.to_json(),
        }
        tmp = new_truth / f".{_SPEC_FILE}.tmp"
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, new_truth / _SPEC_FILE)
        # swap into place; old folders (ours, checked above) go to the staging folder
        for new, target in ((new_lake, lake_dir), (new_truth, truth_dir)):
            if target.exists():
                os.replace(target, stage / f"old-{target.name}")
            os.replace(new, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return lake_dir, truth_dir


def _as_date(value: date | str | None, default: date) -> date:
    if value is None:
        return default
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def synth_command(
    out_dir: Path,
    *,
    seed: int,
    world: World,
    n_assets: int = 60,
    start: date | str | None = None,
    end: date | str | None = None,
    quirks: frozenset[str] = frozenset(),
    partitioned: bool = False,
) -> tuple[Path, Path]:
    """What the CLI `majors-alts synth OUT_DIR --seed N --world planted|null` calls."""
    defaults = SyntheticSpec()
    spec = SyntheticSpec(
        n_assets=n_assets,
        start=_as_date(start, defaults.start),
        end=_as_date(end, defaults.end),
        world=world,
        seed=seed,
        quirks=frozenset(quirks),
    )
    return write_lake(generate(spec), Path(out_dir), partitioned=partitioned)
