"""Vectorised daily backtest with fees, slippage and funding (timing of DESIGN.md).

Weights ``W[d]`` are decided at the end of day ``d`` and held over ``d+1``; the book starts flat.
On pnl day ``d``, with ``held = W[d-1]``:

* ``gross[d] = sum_i held_i * r[d, i]`` (an undefined return counts 0: see ``panel.py``);
* drift: by the close of ``d`` the held weights have become
  ``drifted[d] = held * (1 + r[d]) / (1 + gross[d])`` (an asset without a return that day does
  not move; a book whose gross return is ``<= -1`` has lost its capital and is treated as
  liquidated: ``drifted = 0``). Fees, slippage and funding are cash flows left out of the
  denominator (a few bp; keeping them out keeps the search's cost table per regime pair);
* ``turnover[d] = sum_i |dW_i|`` with ``dW = W[d-1] - drifted[d-1]``: the trade from the
  drifted book to the new target, decided at ``d-1`` and charged on ``d`` (entering from
  flat trades the whole target); ``turnover_target[d] = sum_i |W[d-1, i] - W[d-2, i]|`` is
  the target-to-target figure that ignores drift (reported beside it, never charged);
* ``fee[d] = sum_i |dW_i| * (taker_share * taker_bps + (1 - taker_share) * maker_bps) / 1e4``;
* ``slippage[d] = sum_i |dW_i| * (floor_bps + impact_bps * sqrt(participation_i)) / 1e4`` with
  ``participation_i = min(1, |dW_i| * capital / median_volume_i[d-1])`` (trailing median volume
  known at the decision; an asset without volume data is charged full participation);
* ``funding[d] = -sum_i W[d-1, i] * f[d, i]``: a long pays a positive rate, a short earns it.
  A held asset without funding data that day accrues ``0`` (``missing_funding: zero``) or, for
  a basket alt, the median rate of the basket alts that have data (``basket_median``) or of
  the majors that have data (``majors_median``); the majors are never filled with alt rates;
  the share of held notional without data is reported as ``unfunded_share`` either way;
* ``net = gross - fee - slippage + funding``. Fees and slippage are never negative.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arrays import Panel, Series, shift
from ..config import CostsConfig
from ..market.row_median import row_nanmedian


@dataclass(frozen=True)
class BacktestResult:
    gross: Series
    fee: Series
    slippage: Series
    funding: Series
    net: Series
    turnover: Series  # drift-aware: sum |target - drifted held book|, the traded amount
    turnover_target: Series  # target-to-target sum |W[d-1] - W[d-2]|, ignores drift
    gross_leverage: Series
    long_notional: Series
    short_notional: Series
    unfunded_share: Series


def fee_rate(costs: CostsConfig) -> float:
    return (
        costs.taker_share * costs.taker_fee_bps + (1 - costs.taker_share) * costs.maker_fee_bps
    ) / 1e4


def trade_costs(dw: Panel, median_volume: Panel, costs: CostsConfig) -> tuple[Series, Series]:
    """Fees and slippage (both >= 0) of trades ``dw`` given the volume known at the decision."""
    a = np.abs(dw)
    fee = a.sum(axis=1) * fee_rate(costs)
    # a tiny volume overflows the ratio to inf, which the cap below turns into full participation
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        part = np.where(
            np.isfinite(median_volume) & (median_volume > 0),
            a * costs.capital_usd / median_volume,
            1.0,
        )
    part = np.minimum(part, 1.0)
    slip_bps = costs.slippage_floor_bps + costs.slippage_impact_bps * np.sqrt(part)
    slip = (a * slip_bps).sum(axis=1) / 1e4
    return fee, slip


def fill_funding(
    funding: Panel, basket: np.ndarray | None, rule: str, majors: list[int] | None = None
) -> Panel:
    """Funding with the stated treatment of missing data (``zero``, ``basket_median`` or
    ``majors_median``; the last two fill basket alts only, and fall back to 0 without a basket,
    without the majors' columns, or on a day when no source rate exists)."""
    if rule == "zero" or basket is None or (rule == "majors_median" and not majors):
        return np.where(np.isfinite(funding), funding, 0.0)

    if rule == "majors_median":
        source = np.zeros(funding.shape, dtype=bool)
        source[:, majors] = True
    else:
        source = basket
    med = row_nanmedian(np.where(source, funding, np.nan))
    med = np.where(np.isfinite(med), med, 0.0)
    # only basket alts take the basket median; anything else without data (the majors) accrues 0
    fill = np.where(basket, med[:, None], 0.0)
    return np.where(np.isfinite(funding), funding, fill)


def drift_weights(held: Panel, ret: Panel) -> Panel:
    """Weights of the book ``held`` over a day at that day's close: ``held * (1 + r) / (1 + R)``
    with ``R = sum_i held_i * r_i`` (a NaN return counts 0: that name does not move). Rows with
    ``1 + R <= 0`` (the capital is gone) are 0: the book is liquidated and re-entered from flat."""
    r = np.nan_to_num(ret)
    nav = 1.0 + (held * r).sum(axis=1)
    grown = held * (1.0 + r)
    out = np.zeros_like(grown)
    np.divide(grown, nav[:, None], out=out, where=nav[:, None] > 0)
    return out


def funding_pnl_by_asset(
    held: Panel,
    funding: Panel,
    basket: np.ndarray | None,
    rule: str,
    majors: list[int] | None = None,
) -> Panel:
    """Per-asset funding pnl ``-held * f`` of the book held over each day (``basket`` known at
    the decision, i.e. already shifted): a long pays a positive rate, a short earns it."""
    return -(held * fill_funding(funding, basket, rule, majors))


def run_backtest(
    weights: Panel,
    ret: Panel,
    funding: Panel | None,
    median_volume: Panel,
    costs: CostsConfig,
    *,
    basket: np.ndarray | None = None,
    majors: list[int] | None = None,
) -> BacktestResult:
    """Per pnl day ``d`` results for decided weights ``weights`` (see module doc)."""
    n = weights.shape[0]
    held = shift(weights, 1, 0.0)  # held over day d = decided at d-1
    # the trade charged on d: from the book held over d-1, drifted to its close, to W[d-1]
    dw = held - shift(drift_weights(held, ret), 1, 0.0)
    medvol_at_decision = shift(median_volume, 1)
    gross = (held * np.nan_to_num(ret)).sum(axis=1)
    fee, slip = trade_costs(dw, medvol_at_decision, costs)
    if funding is not None and costs.funding:
        fund = funding_pnl_by_asset(
            held,
            funding,
            None if basket is None else shift(basket, 1, False),
            costs.missing_funding,
            majors,
        ).sum(axis=1)
        missing = ~np.isfinite(funding)
        tot = np.abs(held).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            unf = np.where(tot > 0, (np.abs(held) * missing).sum(axis=1) / tot, 0.0)
    else:
        fund = np.zeros(n)
        unf = np.where(np.abs(held).sum(axis=1) > 0, 1.0, 0.0)
    net = gross - fee - slip + fund
    return BacktestResult(
        gross=gross,
        fee=fee,
        slippage=slip,
        funding=fund,
        net=net,
        turnover=np.abs(dw).sum(axis=1),
        turnover_target=np.abs(held - shift(held, 1, 0.0)).sum(axis=1),
        gross_leverage=np.abs(held).sum(axis=1),
        long_notional=np.where(held > 0, held, 0.0).sum(axis=1),
        short_notional=np.where(held < 0, held, 0.0).sum(axis=1),
        unfunded_share=unf,
    )


def funding_by_leg(
    weights: Panel,
    funding: Panel | None,
    costs: CostsConfig,
    majors: list[int],
    days: np.ndarray,
    *,
    basket: np.ndarray | None = None,
) -> dict[str, float]:
    """Total funding pnl over pnl days ``days`` of the majors (``majors_long``: the columns
    ``majors``) and of every other name (``alts_short``: the short basket) of the book decided
    as ``weights`` (the engine's timing and missing-data rule), and ``unfunded_short_share``:
    the mean, over those days with short notional, of the share of the short notional without
    funding data (nan when the book is never short). The two legs add up to the engine's
    ``funding`` summed over ``days``. Without funding (no table, or ``costs.funding`` off) both
    legs are 0 and every short is unfunded."""
    held = shift(weights, 1, 0.0)[days]
    is_major = np.zeros(weights.shape[1], dtype=bool)
    is_major[majors] = True
    short = np.where(held < 0, -held, 0.0)
    tot = short.sum(axis=1)
    if funding is None or not costs.funding:
        per = np.zeros_like(held)
        missing = np.ones(held.shape, dtype=bool)
    else:
        b = None if basket is None else shift(basket, 1, False)[days]
        per = funding_pnl_by_asset(held, funding[days], b, costs.missing_funding, majors)
        missing = ~np.isfinite(funding[days])
    has = tot > 0
    share = (short * missing).sum(axis=1)[has] / tot[has]
    return {
        "majors_long": float(per[:, is_major].sum()),
        "alts_short": float(per[:, ~is_major].sum()),
        "unfunded_short_share": float(share.mean()) if share.size else float("nan"),
    }


def vol_target_scale(
    book_returns: Series, target_ann_vol: float, lookback: int, max_leverage: float
) -> Series:
    """Ex-ante scale at decision ``d``: target / realised vol of the book over the ``lookback``
    pnl days ending at ``d`` (known at ``d``), capped at ``max_leverage``; 1 before enough data."""
    import polars as pl

    s = pl.Series(np.where(np.isfinite(book_returns), book_returns, np.nan)).fill_nan(None)
    sd = s.rolling_std(lookback, min_samples=max(5, lookback // 2)).to_numpy()
    sd = np.where(np.isfinite(sd.astype(np.float64)), sd, np.nan).astype(np.float64)
    ann = sd * np.sqrt(365.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        v = np.where(ann > 0, target_ann_vol / ann, np.nan)
    return np.where(np.isfinite(v), np.minimum(v, max_leverage), 1.0)
