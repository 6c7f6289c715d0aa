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

Designs (``SyntheticSpec.design``, ``synth --design NAME``; ``model.Design``, ``DESIGNS``):
how the hidden regime shows. The default (``baseline``) is the market above. A design sets
the chain's ``stay_prob`` (mean spell ``1 / (1 - stay_prob)`` days), the spread's ``drift``
(``mu`` = -drift, 0, +drift: the edge) and ``spread_vol``, multiplies the funding and turnover
leans (``funding``, ``volume``; 0 switches a channel off) and adds three channels, none of
which moves the spread's mean:

- ``breadth`` b: each alt's idiosyncratic return gets ``b * s_t * v_t * (1 - D / 0.2)`` with
  ``s_t`` = +1 (RISK_ON_ALTS), 0, -1 (RISK_ON_MAJORS) and ``D`` ~ Bernoulli(0.2) per alt and
  day (its own random stream): most alts drift with the regime and a fifth move four times as
  hard the other way, so the median alt (breadth, median returns) leans and the mean does not;
- ``dominance`` d: the alts' reported market caps are multiplied by ``exp(d * EMA(s_t))``
  (half-life ~14 days): circulating supply swelling in alt seasons moves dominance and the
  totals, never prices, volumes or open interest;
- ``volatility`` k: the alts' idiosyncratic volatility is multiplied by ``exp(-k * EMA(s_t))``
  (~5-day half-life): wilder in RISK_ON_MAJORS, calmer in RISK_ON_ALTS.

With the defaults (multipliers 1, channels 0) the generator's draws and values are the
baseline's to the bit. The null world ignores every channel and the drift.

Quirks (only when asked, see ``QUIRKS``): ``duplicates`` repeats ~0.5% of fact_price and
fact_volume rows exactly; ``gaps`` removes ~0.1% of (asset, day) cells (never an asset's first
or last day) from fact_price, fact_marketcap and fact_volume; ``ragged_ends`` ends fact_volume
2 days and fact_funding 5 days before fact_price; ``spellings`` writes fact_funding and
fact_open_interest asset_ids in upstream spellings (``BTCUSDT``, ``ETH-PERP``, ``SATS``,
``ALT003USDT``, ``ALT001-PERP``...).
"""

from __future__ import annotations

from .model import DESIGNS, QUIRKS, REGIMES, Design, SyntheticLake, SyntheticSpec, Truth, World
from .simulate import generate
from .write import synth_command, write_lake

__all__ = [
    "DESIGNS",
    "QUIRKS",
    "REGIMES",
    "Design",
    "SyntheticLake",
    "SyntheticSpec",
    "Truth",
    "World",
    "generate",
    "synth_command",
    "write_lake",
]
