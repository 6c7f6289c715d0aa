"""The configuration's sections (``paths``, ``data``, ``universe``, ...): typed, validated, with
the defaults (``config.yaml`` in the package mirrors them); the names of the features a
configuration may name; the bounds that keep a typo from reaching the arithmetic."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "config.yaml"

# Upper bounds that keep a typo (1e29 days, an exposure of 1e308) from reaching the arithmetic:
# no window, lag or history spans more than a century of days; no regime holds more than
# EXPOSURE_MAX times the book.
DAYS_MAX = 36_500
EXPOSURE_MAX = 10.0

Regime = Literal["RISK_ON_MAJORS", "BALANCED", "RISK_ON_ALTS"]
REGIMES: tuple[Regime, ...] = ("RISK_ON_MAJORS", "BALANCED", "RISK_ON_ALTS")


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False
    )


class PathsConfig(_Strict):
    data_lake: Path = Path("data/curated/data_lake")
    duckdb: Path | None = Path("outputs/research.duckdb")
    output_root: Path = Path(".")


class DataConfig(_Strict):
    on_bad_values: Literal["drop", "error"] = Field(
        "drop",
        description="non-positive close, negative market cap/volume/open interest: 'drop' removes "
        "the rows with one warning naming table, column, count and first key; 'error' refuses",
    )
    max_gap_days: int = Field(
        3, ge=0, le=DAYS_MAX, description="price gaps up to this many days are bridged"
    )
    stale_days: int = Field(
        1, ge=0, le=DAYS_MAX, description="a table ending more than this many days early is stale"
    )
    max_age_days: int = Field(
        2,
        ge=1,
        le=DAYS_MAX,
        description="the lake's last date may be at most this many days before today (UTC, or "
        "--today) for today's call: on day T the freshest lake ends T-1 (a day is complete at "
        "00:00 UTC) and the public archive publishes it hours later, so a morning call often "
        "sees T-2; older, `signals` refuses (exit 2) without --allow-stale and `run` and the "
        "dashboard show a stale banner (docs/morning.md, Fresh or loud)",
    )


class UniverseConfig(_Strict):
    majors: tuple[str, str] = ("BTC", "ETH")
    min_marketcap: float = Field(50e6, ge=0)
    min_volume: float = Field(5e6, ge=0, description="trailing median daily volume, USD")
    volume_lookback_days: int = Field(30, ge=1, le=DAYS_MAX)
    min_history_days: int = Field(
        60, ge=1, le=DAYS_MAX, description="days of prices before an alt is eligible"
    )
    exclude: tuple[str, ...] = (
        "USDT",
        "USDC",
        "DAI",
        "BUSD",
        "TUSD",
        "FDUSD",
        "USDE",
        "USDP",
        "PYUSD",
        "USDD",
        "FRAX",
        "GUSD",
        "UST",
        "USTC",
        "LUSD",
        "WBTC",
        "WETH",
        "STETH",
        "WSTETH",
        "PAXG",
        "XAUT",
    )
    aliases: dict[str, str] = Field(default_factory=lambda: {"SATS": "1000SATS"})
    basket_size: int = Field(20, ge=1, le=100_000)
    rank_by: Literal["marketcap", "volume"] = "marketcap"
    min_basket_names: int | None = Field(
        None,
        ge=1,
        description="a day whose short basket has fewer names is not traded (exposure 0, the "
        "reason in the timeline's no_trade_reason); null = half of basket_size rounded up (10 "
        "for 20: below 10 names the 0.10 per-name cap cuts the short side under its gross)",
    )
    basket_drop_warn: float = Field(
        0.25,
        gt=0,
        le=1,
        description="warn when the short basket loses more than this share of its names "
        "overnight while basket names stop printing prices (assets that end together)",
    )
    candidate_margin: int = Field(
        5,
        ge=1,
        le=1_000,
        description="the panel holds, for each day, the top basket_size x this many eligible "
        "assets by rank_by (a margin for rank changes; the basket is inside it from 1)",
    )
    candidate_top_marketcap: int = Field(
        100,
        ge=0,
        le=1_000_000,
        description="the panel also holds, for each day, the top this many listed assets by "
        "market cap and the top this many alts with a 90-day return (the coins of market-wide "
        "indices: at least 100 keeps altseason_50 and altseason_100 exact); every other asset "
        "counts in btc_dom's total only",
    )

    @model_validator(mode="after")
    def _min_names(self) -> UniverseConfig:
        if self.min_basket_names is not None and self.min_basket_names > self.basket_size:
            raise ValueError(
                f"universe.min_basket_names ({self.min_basket_names}) exceeds "
                f"universe.basket_size ({self.basket_size}): no day could be traded"
            )
        return self

    def min_names(self) -> int:
        """The smallest short basket that is traded (``min_basket_names``, else half of
        ``basket_size`` rounded up)."""
        if self.min_basket_names is not None:
            return self.min_basket_names
        return -(-self.basket_size // 2)

    @field_validator("majors")
    @classmethod
    def _majors_upper(cls, v: tuple[str, str]) -> tuple[str, str]:
        a, b = v[0].strip().upper(), v[1].strip().upper()
        if a == b:
            raise ValueError("the two majors must differ")
        return (a, b)


class BookConfig(_Strict):
    weighting: Literal["equal", "cap", "inverse_vol"] = "equal"
    short_gross: float = Field(
        1.0, gt=0, description="gross of the short alt basket, fraction of equity"
    )
    max_weight: float = Field(
        0.10, gt=0, description="per-name cap on |weight| of an alt, fraction of equity"
    )
    beta_window: int = Field(90, ge=10, le=DAYS_MAX)
    beta_min_obs: int = Field(
        45, ge=5, le=DAYS_MAX, description="fewer observations -> prior betas (counted)"
    )
    ridge: float = Field(
        0.05,
        ge=0,
        description="penalty on distance from the prior, relative to the window's factor "
        "covariance: the estimate is (b_ols + ridge * prior) / (1 + ridge), 0.05 -> 4.8%",
    )
    prior_beta_btc: float = 1.0
    prior_beta_eth: float = 0.0
    beta_clamp: tuple[float, float] = (-1.0, 3.0)
    winsor_sigma: float = Field(5.0, gt=0, description="returns clipped at +-k ex-ante EWMA vols")
    vol_halflife: int = Field(20, ge=2, le=DAYS_MAX)
    major_bounds: tuple[float, float] = Field(
        (0.0, 1.5), description="bounds on each major's weight (BTC and ETH legs)"
    )
    gross_cap: float = Field(3.0, gt=0, description="cap on sum |w| of the whole book")

    @model_validator(mode="after")
    def _check(self) -> BookConfig:
        if self.beta_clamp[0] >= self.beta_clamp[1]:
            raise ValueError("beta_clamp must be (low, high) with low < high")
        if self.major_bounds[0] > self.major_bounds[1]:
            raise ValueError("major_bounds must be (low, high) with low <= high")
        if self.beta_min_obs > self.beta_window:
            raise ValueError("beta_min_obs cannot exceed beta_window")
        return self


class CostsConfig(_Strict):
    taker_fee_bps: float = Field(5.0, ge=0)
    maker_fee_bps: float = Field(2.0, ge=0)
    taker_share: float = Field(0.5, ge=0, le=1)
    slippage_floor_bps: float = Field(2.0, ge=0)
    slippage_impact_bps: float = Field(
        100.0, ge=0, description="extra bps at 100% participation; scales with sqrt(participation)"
    )
    capital_usd: float = Field(10e6, gt=0)
    funding: bool = True
    missing_funding: Literal["zero", "basket_median", "majors_median"] = Field(
        "zero",
        description="funding for a held asset without data that day: 'zero' accrues nothing, "
        "'basket_median' uses the median of the basket alts that have data, 'majors_median' "
        "gives a basket alt the median of the majors' rates that day (README, funding); the "
        "share of notional without data is reported either way",
    )


class VolTargetConfig(_Strict):
    enabled: bool = False
    target_ann_vol: float = Field(0.20, gt=0)
    lookback_days: int = Field(30, ge=5, le=DAYS_MAX)
    max_leverage: float = Field(2.0, gt=0)


class FeaturesConfig(_Strict):
    zscore_window: int = Field(180, ge=10, le=DAYS_MAX)
    zscore_min_periods: int = Field(90, ge=5, le=DAYS_MAX)
    enabled: tuple[str, ...] | None = Field(
        None, description="feature names to compute; null = every registered feature"
    )

    @model_validator(mode="after")
    def _check(self) -> FeaturesConfig:
        if self.zscore_min_periods > self.zscore_window:
            raise ValueError("zscore_min_periods cannot exceed zscore_window")
        return self


class GridConfig(_Strict):
    weight_values: tuple[float, ...] = Field(
        (0.0, 0.5, 1.0),
        description="weight magnitudes searched per feature; the sign comes from `signs`, and a "
        "feature without a sign is searched with both signs",
    )
    signs: dict[str, float] = Field(
        default_factory=lambda: {
            "alt_mom_7d": -1.0,
            "alt_mom_20d": -1.0,
            "btc_dom_chg_20d": 1.0,
            "breadth_7d": -1.0,
            "funding_skew": -1.0,
            "alt_volume_share": -1.0,
            "vol_spread_7d": 1.0,
        },
        description="economic prior: +1 if a high value favours majors, -1 if it favours alts",
    )
    score_features: tuple[str, ...] = (
        "alt_mom_7d",
        "alt_mom_20d",
        "btc_dom_chg_20d",
        "breadth_7d",
        "funding_skew",
        "alt_volume_share",
        "vol_spread_7d",
    )
    lower_thresholds: tuple[float, ...] = (-1.0, -0.5, 0.0)
    upper_thresholds: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)
    bands: tuple[Annotated[float, Field(ge=0)], ...] = (0.0, 0.1, 0.25)
    min_dwells: tuple[int, ...] = (1, 3, 7)
    max_sets: int = Field(
        2000, ge=1, le=100_000_000, description="larger grids are sampled at random"
    )
    seed: int = 0

    @field_validator("signs")
    @classmethod
    def _signs(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: x for k, x in v.items() if x not in (-1.0, 1.0)}
        if bad:
            raise ValueError(f"signs must be +1 or -1, got {bad}")
        return v


class JumpConfig(_Strict):
    """The statistical jump model of ``regime.mode: jump`` (regime/jump.py)."""

    penalties: tuple[Annotated[float, Field(gt=0)], ...] = Field(
        (3.0, 10.0, 30.0, 100.0),
        min_length=1,
        description="jump penalties lambda (loss units: half squared z-score distance) searched "
        "in every train fold; each one is a trial counted in n_trials",
    )
    n_init: int = Field(
        10, ge=1, le=10_000, description="k-means++ restarts of the coordinate descent"
    )
    max_iter: int = Field(
        100, ge=1, le=100_000, description="coordinate-descent iterations per restart"
    )


class ForecastConfig(_Strict):
    """The regularised forecast of ``regime.mode: forecast`` (regime/forecast.py)."""

    horizon_days: int = Field(
        10, ge=1, le=60, description="days of the book's forward return the ridge forecasts"
    )
    ridge: float = Field(
        1.0,
        ge=0,
        description="penalty on the coefficients per training row, in units of the scaled "
        "features' variance (1: each coefficient shrunk about halfway for uncorrelated features)",
    )
    smooth_halflife: float = Field(
        5.0, ge=0, description="half-life in days of the EMA on the score; 0 = no smoothing"
    )
    history_days: int = Field(
        1095,
        ge=60,
        description="the fit reaches back up to this many days before a fold's train end, "
        "never before the end of burn-in nor fewer than walkforward.train_days (the fold "
        "schedule is unchanged)",
    )


class RegimeConfig(_Strict):
    mode: Literal["forecast", "composite", "hmm", "kmeans", "jump"] = "forecast"
    default_weights: dict[str, float] = Field(
        default_factory=lambda: {"alt_mom_7d": -1.0, "alt_mom_20d": -1.0, "btc_dom_chg_20d": 1.0}
    )
    lower: float = -0.5
    upper: float = 0.5
    band: float = Field(0.1, ge=0, description="hysteresis half-width; negative would invert it")
    min_dwell: int = Field(3, ge=1, le=DAYS_MAX)
    exposure: dict[Regime, float] = Field(
        default_factory=lambda: {"RISK_ON_MAJORS": 1.0, "BALANCED": 0.0, "RISK_ON_ALTS": 0.0}
    )
    objective: Literal["sharpe", "sortino", "calmar", "mean"] = "sharpe"
    n_states: int = Field(3, ge=2, le=6, description="states of the HMM / k-means / jump models")
    grid: GridConfig = GridConfig()
    jump: JumpConfig = JumpConfig()
    forecast: ForecastConfig = ForecastConfig()

    @model_validator(mode="after")
    def _check(self) -> RegimeConfig:
        if self.lower > self.upper:
            raise ValueError("regime.lower must be <= regime.upper")
        missing = set(REGIMES) - set(self.exposure)
        if missing:
            raise ValueError(f"regime.exposure lacks {sorted(missing)}")
        big = {r: x for r, x in self.exposure.items() if abs(x) > EXPOSURE_MAX}
        if big:
            raise ValueError(
                f"regime.exposure {big} beyond +-{EXPOSURE_MAX:g}: an exposure is the share of "
                "the long-short book held in that regime (1 = the book, 0 = flat)"
            )
        return self


class WalkForwardConfig(_Strict):
    train_days: int = Field(365, ge=60, le=DAYS_MAX)
    test_days: int = Field(90, ge=5, le=DAYS_MAX)
    purge_days: int = Field(
        20, ge=1, le=DAYS_MAX, description="gap between train end and test start"
    )
    scheme: Literal["rolling", "anchored"] = "rolling"
    burn_in_days: int | None = Field(
        None,
        ge=0,
        le=DAYS_MAX,
        description="days before the first train window; null = derived from windows",
    )


class StatsConfig(_Strict):
    rolling_beta_window: int = Field(
        60,
        ge=10,
        le=DAYS_MAX,
        description="window of the dashboard's rolling realized betas of the book",
    )
    n_boot: int = Field(2000, ge=100, description="bootstrap resamples (at most limits.n_boot_max)")
    mean_block: float = Field(10.0, gt=1)
    pbo_blocks: int = Field(16, ge=4, le=64)
    effective_n_max_trials: int = Field(
        1000,
        ge=2,
        le=1_000_000,
        description="trials whose out-of-sample daily returns are evaluated for the effective "
        "number of trials; larger grids are subsampled (seeded by stats.seed)",
    )
    spa_max_trials: int = Field(
        5000,
        ge=2,
        description="trials in the family of the selection tests (Hansen's SPA, StepM): every "
        "parameter set the search chose among up to this many, else a seeded sample "
        "(kpis.json walk_forward.spa states it and what sampling does to the p-value)",
    )
    seed: int = 0

    @field_validator("pbo_blocks")
    @classmethod
    def _even(cls, v: int) -> int:
        if v % 2:
            raise ValueError("pbo_blocks must be even")
        return v


class SignalsConfig(_Strict):
    history_days: int | None = Field(
        None,
        ge=60,
        le=DAYS_MAX,
        description="origin of the signal's fold schedule, in days before the decision day; "
        "null = the lake's first date (or --start), the same schedule as run",
    )


class NotifyConfig(_Strict):
    """How ``--notify`` posts its alert (morning/notify.py); never changes a number."""

    retries: int = Field(
        3, ge=0, le=10, description="extra attempts after a network error, timeout, 429 or 5xx"
    )
    backoff_s: float = Field(
        1.0, ge=0, le=600, description="seconds before the first retry, doubled after each one"
    )
    max_backoff_s: float = Field(
        30.0, ge=0, le=3600, description="longest wait between two attempts (also caps Retry-After)"
    )
    timeout_s: float = Field(
        10.0, gt=0, le=600, description="seconds to wait for the webhook's answer, per attempt"
    )
    when: Literal["always", "alerts"] = Field(
        "always",
        description="always: a message every time (a silent morning then means a broken job); "
        "alerts: only on a failure, stale data, a regime change or a revision",
    )


class ReportConfig(_Strict):
    robustness: bool = Field(
        True,
        description="re-run the walk-forward at shifted starts and scaled costs on the prepared "
        "arrays (kpis.json robustness, dashboard panel); false skips it",
    )
    league: bool = Field(
        True,
        description="run the traders' indicators (Altcoin Season Index, BTC dominance, ETH/BTC, "
        "the best single feature) as baselines on the same book, costs and folds (kpis.json "
        "league, dashboard league table); false skips it",
    )
    start_shifts: list[int] = Field(
        [0, 30, 60, 90], description="days the fold schedule's origin is moved, 0 = the run"
    )
    cost_multipliers: list[float] = Field(
        [0.5, 1.0, 2.0], description="factors on fee and slippage bps, 1 = the run"
    )

    @field_validator("start_shifts")
    @classmethod
    def _shifts(cls, v: list[int]) -> list[int]:
        if any(x < 0 or x > DAYS_MAX for x in v):
            raise ValueError(f"start_shifts must be between 0 and {DAYS_MAX} days")
        return v

    @field_validator("cost_multipliers")
    @classmethod
    def _mults(cls, v: list[float]) -> list[float]:
        if any(x < 0 for x in v):
            raise ValueError("cost_multipliers must be >= 0")
        return v


class LimitsConfig(_Strict):
    """Limits and thresholds that refuse or warn. None of them changes a number of a run that
    passes them, so they are left out of the config hash (like ``paths``)."""

    n_boot_max: int = Field(
        100_000,
        ge=100,
        description="largest stats.n_boot accepted (the bootstrap's time grows with it: the "
        "default 2,000 takes about a second on the demo)",
    )
    sweep_points_max: int = Field(
        10_000,
        ge=1,
        description="largest sweep accepted (grid product plus points), checked before the "
        "grid is expanded",
    )
    rejected_rows_warn_share: float = Field(
        0.001,
        ge=0,
        le=1,
        description="a table whose rows left out as missing or duplicated exceed this share "
        "gets a warning on the console (rows out of range or beyond physical sense always do)",
    )
    rejected_rows_error_share: float = Field(
        0.05,
        ge=0,
        le=1,
        description="a table (lake or import) whose rejected rows exceed this share is refused "
        "(exit 2): the data are broken, not merely gappy",
    )


# The features a configuration may name: the keys of ``market.features.REGISTRY``, which
# checks on import that it registers exactly these (the config needs only the names, so it
# does not import the feature code).
FEATURE_NAMES: tuple[str, ...] = (
    "breadth_1d",
    "breadth_7d",
    "breadth_slope",
    "alt_median_ret_1d",
    "alt_dispersion_iqr",
    "dispersion_slope",
    "btc_dom",
    "btc_dom_chg_1d",
    "btc_dom_chg_5d",
    "btc_dom_chg_20d",
    "funding_skew",
    "funding_heating",
    "alt_volume_rel",
    "alt_volume_high_share",
    "alt_volume_share",
    "vol_spread_7d",
    "alt_mom_3d",
    "alt_mom_7d",
    "alt_mom_20d",
    "oi_change_7d",
    "altseason_50",
    "altseason_100",
    "btc_dom_chg_30d",
    "total2_share",
    "total3_share",
    "eth_btc",
    "eth_btc_chg_50d",
    "stable_dom",
)
