"""The synthetic market's parameters (documented in the package docstring), what to generate
(``SyntheticSpec``), what it was generated from (``Truth``) and the random helpers."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field, fields
from datetime import date
from typing import Final, Literal, get_args

import numpy as np
import numpy.typing as npt
import polars as pl

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
BREADTH_FEW: Final = 0.2  # share of alts a day that move against the breadth channel's lean
DOMINANCE_EMA_ALPHA: Final = 0.05  # ~14-day half-life of the supply lean

GENERATOR: Final = (
    "majors_alts_monitor.synthetic"  # the tag older lakes carry: unchanged by the move
)
GENERATOR_VERSION: Final = 1
_SPEC_FILE: Final = "spec.json"


@dataclass(frozen=True)
class Design:
    """How the hidden regime shows in the market: the channels a detector can see it through,
    the length of its spells and the strength of the edge (the package docstring, "Designs").

    The defaults are the generator's original market (``baseline``): the edge through the
    spread's drift, funding and volume leaning with the regime. Multipliers of 1 and channels
    of 0 reproduce it to the bit. A channel never changes the spread's mean: only ``drift``
    is the edge; the channels are what a detector may see of the regime."""

    name: str = "baseline"
    stay_prob: float = STAY_PROB  # daily probability the regime stays (mean spell 1/(1-p))
    drift: float = SPREAD_DRIFT[2]  # |mu| of the spread factor in the two outer regimes
    spread_vol: float = SPREAD_VOL  # the spread factor's noise (with drift: the edge's SNR)
    funding: float = 1.0  # multiplier on FUNDING_LEAN_8H
    volume: float = 1.0  # multiplier on the turnover leans (volume and open interest)
    breadth: float = 0.0  # daily shift of the median alt's idiosyncratic return, mean kept 0
    dominance: float = 0.0  # log lean of the alts' circulating supply (market caps, not prices)
    volatility: float = 0.0  # log lean of the alts' idiosyncratic volatility

    def __post_init__(self) -> None:
        if not 0.5 <= self.stay_prob < 1.0:
            raise ValueError(f"Design.stay_prob must be in [0.5, 1), got {self.stay_prob!r}")
        for k in ("drift", "spread_vol", "funding", "volume", "breadth", "dominance"):
            v = getattr(self, k)
            if not (isinstance(v, (int, float)) and np.isfinite(v) and v >= 0):
                raise ValueError(f"Design.{k} must be a finite number >= 0, got {v!r}")
        if not np.isfinite(self.volatility) or abs(self.volatility) > 2.0:
            raise ValueError(f"Design.volatility must be in [-2, 2], got {self.volatility!r}")

    @property
    def mean_spell_days(self) -> float:
        return 1.0 / (1.0 - self.stay_prob)

    def to_json(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# The named designs of ``synth --design`` and ``benchmarks/power.py``: one or a few channels
# each, spells of about 33 to 143 days, the edge (drift) 0.003 to 0.005 a day. Their signal
# strength (the best single feature's correlation with the true regime out of sample) is
# measured and printed by the power benchmark, which keeps a design in the band 0.5-0.85.
DESIGNS: Final[dict[str, Design]] = {
    d.name: d
    for d in (
        Design(),  # baseline: funding and volume lean, ~67-day spells
        Design(name="funding_fast", funding=1.5, volume=0.0, stay_prob=0.97),
        Design(name="momentum", funding=0.0, volume=0.0, stay_prob=0.99, drift=0.005),
        Design(name="breadth_dominance", funding=0.0, volume=0.0, breadth=0.004, dominance=0.3),
        Design(name="volatility", funding=0.0, volume=0.0, volatility=1.0),
        Design(
            name="weak_mix",
            funding=0.5,
            volume=0.5,
            breadth=0.002,
            dominance=0.15,
            volatility=0.4,
            drift=0.003,
            stay_prob=0.993,
        ),
    )
}

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
    design: Design = field(default_factory=Design)

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
        if not isinstance(self.design, Design):
            raise ValueError(f"SyntheticSpec.design must be a Design, got {self.design!r}")
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
            "design": self.design.to_json(),
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
