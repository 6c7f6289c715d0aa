"""Thin data, refused or flagged: which decision days the book may be traded on.

A day's book is **refused** (not traded: its exposure is 0 whatever the regime) when, with data
dated ``<= d`` only:

* its short basket holds fewer than ``universe.min_basket_names`` names (the default, half of
  ``basket_size`` rounded up, is 10 for the default 20: below it the per-name cap
  ``book.max_weight`` cuts the short side under ``book.short_gross`` and a handful of single
  names stands for "the alts"), or
* a long leg has no price: BTC's or ETH's return on ``d`` is undefined (before its first
  price, on its first priced day, or past a gap longer than ``data.max_gap_days``), so the
  book can be neither priced nor neutralised to it.

A day is **flagged** (a warning, still traded) when the basket loses more than
``universe.basket_drop_warn`` of its names overnight while basket names stop printing prices:
assets that end together are more often a source that stopped than delistings. The flag reads
the day and the day before only, so it is point in time like the refusal.

Everything here is a pure function of the panel, the universe and the book. On a run whose
panel holds only its candidates (``market/scope.py``) the verdicts are those of a panel of the
whole lake: every day's basket lies inside the candidates, so its size is the same; the majors
are always candidates, so their returns are the same; and the alts that stopped printing, of
any rank, are counted over the whole lake (``panel.alts_ended``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .beta_neutral import Book
from .panel import MarketPanel
from .universe import Universe


@dataclass(frozen=True)
class BasketDrop:
    """One overnight shrink of the basket: ``day`` (panel index) and the names before/after,
    ``ended`` basket names of the day before without a price on ``day``, and ``ended_all``
    alts of any rank that stopped printing that day."""

    day: int
    before: int
    after: int
    ended: int
    ended_all: int


@dataclass(frozen=True)
class Tradeable:
    """Per decision day: may the book be traded (``ok``), and why not."""

    ok: np.ndarray  # bool per day
    thin: np.ndarray  # basket below min_names
    no_btc: np.ndarray  # BTC has no return on the day
    no_eth: np.ndarray
    min_names: int
    drops: tuple[BasketDrop, ...]

    def reason(self, t: int, n_names: int) -> str | None:
        """Why day ``t`` is not traded (None when it is)."""
        if self.ok[t]:
            return None
        bits = []
        if self.thin[t]:
            what = "empty" if n_names == 0 else f"{n_names} name{'s' if n_names != 1 else ''}"
            bits.append(f"short basket {what}, below universe.min_basket_names {self.min_names}")
        for flag, name in ((self.no_btc, "BTC"), (self.no_eth, "ETH")):
            if flag[t]:
                bits.append(f"no {name} price")
        return "not traded: " + "; ".join(bits)

    def reasons(self, n_names: np.ndarray) -> list[str | None]:
        return [self.reason(t, int(n_names[t])) for t in range(len(self.ok))]


def tradeable(
    panel: MarketPanel, universe: Universe, book: Book, min_names: int, drop_share: float
) -> Tradeable:
    """The refusal and the flags of the module doc, for every day of the panel."""
    n = book.n_names.astype(np.int64)
    thin = n < min_names
    no_btc = ~np.isfinite(panel.ret[:, universe.btc])
    no_eth = ~np.isfinite(panel.ret[:, universe.eth])
    ok = ~(thin | no_btc | no_eth)
    drops = basket_drops(panel, universe, n, drop_share, min_names)
    return Tradeable(ok, thin, no_btc, no_eth, int(min_names), drops)


def basket_drops(
    panel: MarketPanel,
    universe: Universe,
    n_names: np.ndarray,
    drop_share: float,
    min_before: int = 1,
) -> tuple[BasketDrop, ...]:
    """Days the basket, of at least ``min_before`` names the day before (a thinner one is
    refused anyway), lost more than ``drop_share`` of them overnight while at least one of
    them printed no price on the day. ``ended_all`` counts the alts of the whole lake
    (``panel.alts_ended`` when the run kept only its candidates' rows)."""
    if panel.n_days < 2:
        return ()
    before, after = n_names[:-1], n_names[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        lost = np.where(before > 0, (before - after) / np.maximum(before, 1), 0.0)
    priced = np.isfinite(panel.close)
    stopped = priced[:-1] & ~priced[1:]  # printed on d-1, not on d
    ended = (universe.basket[:-1] & stopped).sum(axis=1)
    if panel.alts_ended is not None:  # a scoped run: the whole lake's alts, not the panel's
        ended_all = panel.alts_ended[1:]
    else:
        is_alt = np.ones(panel.n_assets, dtype=bool)
        is_alt[[universe.btc, universe.eth]] = False
        ended_all = (stopped & is_alt[None, :]).sum(axis=1)
    days = np.flatnonzero((lost > drop_share) & (ended > 0) & (before >= max(min_before, 1)))
    return tuple(
        BasketDrop(int(d + 1), int(before[d]), int(after[d]), int(ended[d]), int(ended_all[d]))
        for d in days
    )
