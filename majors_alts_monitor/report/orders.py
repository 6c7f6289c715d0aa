"""The book to trade in money: target amounts at a capital, and the orders that move current
holdings to them, rounded to a minimum order size.

``orders(target_book, current_positions, capital, min_order)`` is a pure function of plain
records, so any source of current holdings can feed it: a ``--positions`` CSV of
``asset_id,usd_notional`` today (``read_positions``, the one function here that touches a
file), the last issued signal of a ledger later. Conventions: weights are fractions of equity
(long > 0, short < 0) and amounts signed US dollars (``usd = weight x capital``); an order is
``target - current`` rounded to the nearest multiple of ``min_order`` (an order that rounds
to 0 is listed under ``below_min_order`` and not sent), except a close (the name leaves the
book), which is sent exactly so no dust is left. ``buy`` adds to the position's signed
amount, ``sell`` takes from it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import MonitorError


def _round_to(x: float, step: float) -> float:
    if step <= 0:
        return float(x)
    return round(x / step) * step + 0.0


def amounts(targets: Sequence[Mapping[str, Any]], capital: float) -> dict[str, Any]:
    """``signals_today.json`` ``amounts``: each target's signed US dollars at ``capital``."""
    rows = [
        {
            "asset_id": str(t["asset_id"]),
            "side": str(t["side"]),
            "weight": float(t["weight"]),
            "usd": float(t["weight"]) * capital,
        }
        for t in targets
    ]
    return {
        "capital_usd": float(capital),
        "rows": rows,
        "long_usd": sum(r["usd"] for r in rows if r["usd"] > 0),
        "short_usd": sum(r["usd"] for r in rows if r["usd"] < 0) + 0.0,
        "note": "usd = weight x capital_usd for the targets held tomorrow (weights of equity "
        "at the exposure); signed, long > 0, short < 0",
    }


def _kind(current: float, target: float) -> str:
    if target == 0:
        return "close"
    if current == 0:
        return "open"
    if (current > 0) != (target > 0):
        return "flip"
    return "increase" if abs(target) > abs(current) else "reduce"


def orders(
    target_book: Sequence[Mapping[str, Any]],
    current_positions: Mapping[str, float],
    capital: float,
    min_order: float = 0.0,
) -> dict[str, Any]:
    """The orders from ``current_positions`` (asset -> signed USD) to ``target_book`` (rows of
    ``asset_id`` and ``weight``, weights of equity at tomorrow's exposure) at ``capital`` USD,
    rounded to ``min_order`` (see the module doc). Returns ``rows`` (one per order: asset, side
    ``buy``/``sell``, kind ``open``/``increase``/``reduce``/``flip``/``close``, current, target
    and order USD), ``below_min_order`` (asset and the unrounded difference), ``traded_usd``
    (sum of |order|) and ``residual_usd`` (sum of |target - position after the orders|)."""
    if not (math.isfinite(capital) and capital > 0):
        raise ValueError(f"capital must be a positive number of USD, got {capital}")
    if not (math.isfinite(min_order) and min_order >= 0):
        raise ValueError(f"min_order must be >= 0 USD, got {min_order}")
    target = {str(t["asset_id"]): float(t["weight"]) * capital for t in target_book}
    # longs, then shorts, then the names to close, each alphabetical
    names = sorted(target, key=lambda a: (target[a] < 0, a))
    names += sorted(a for a in current_positions if a not in target)
    rows, small, residual = [], [], 0.0
    for a in names:
        cur = float(current_positions.get(a, 0.0))
        tgt = target.get(a, 0.0)
        delta = tgt - cur
        order = -cur if tgt == 0 else _round_to(delta, min_order)
        residual += abs(tgt - (cur + order))
        if order == 0:
            if delta != 0:
                small.append({"asset_id": a, "delta_usd": delta})
            continue
        rows.append(
            {
                "asset_id": a,
                "side": "buy" if order > 0 else "sell",
                "kind": _kind(cur, tgt),
                "current_usd": cur + 0.0,
                "target_usd": tgt + 0.0,
                "order_usd": order,
            }
        )
    return {
        "rows": rows,
        "below_min_order": small,
        "traded_usd": sum(abs(r["order_usd"]) for r in rows),
        "residual_usd": residual,
    }


def orders_block(
    targets: Sequence[Mapping[str, Any]],
    positions: Mapping[str, float],
    capital: float,
    min_order: float,
    source: str,
) -> dict[str, Any]:
    """``signals_today.json`` ``orders``: :func:`orders` with what it was computed against."""
    return {
        "against": "positions",
        "positions_file": source,
        "source": f"positions file {source}",
        "ledger_entry": None,
        "min_order_usd": float(min_order),
        **orders(targets, positions, capital, min_order),
        "note": "order = target - current, rounded to the nearest multiple of min_order_usd "
        "(an order that rounds to 0 is listed in below_min_order, not sent); a close is sent "
        "exactly; buy adds to the signed position, sell takes from it",
    }


def size_signal(
    sig: dict,
    capital: float | None,
    positions: Mapping[str, float] | None = None,
    min_order: float = 0.0,
    source: str | None = None,
) -> dict:
    """``sig`` (a signal record) with its ``amounts`` (at ``capital``) and ``orders`` (against
    ``positions``) set in place, and returned."""
    if capital is None:
        return sig
    sig["amounts"] = amounts(sig["targets"], capital)
    if positions is not None:
        sig["orders"] = orders_block(
            sig["targets"], positions, capital, min_order, source or "positions"
        )
    return sig


def read_positions(path: Path, aliases: Mapping[str, str] | None = None) -> dict[str, float]:
    """Current holdings from a CSV with the header ``asset_id,usd_notional`` (signed US
    dollars, long > 0, short < 0). Asset ids are trimmed, upper-cased and mapped through
    ``aliases`` (``universe.aliases``). A missing file, a missing column, an empty or
    non-numeric amount or a repeated asset is a ``MonitorError`` (exit 2) naming the file,
    the column and the first offending line."""
    import polars as pl

    what = f"positions file {path}"
    if not path.is_file():
        raise MonitorError(
            f"{what} not found. What to do: pass a CSV with the header asset_id,usd_notional"
        )
    try:
        df = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as err:
        raise MonitorError(f"{what} cannot be read as CSV: {err}") from None
    cols = [c.strip() for c in df.columns]
    missing = [c for c in ("asset_id", "usd_notional") if c not in cols]
    if missing:
        raise MonitorError(
            f"{what} lacks the column(s) {missing} (it has {cols}). What to do: use the header "
            "asset_id,usd_notional"
        )
    df = df.rename(dict(zip(df.columns, cols, strict=True)))
    al = {k.upper(): v.upper() for k, v in (aliases or {}).items()}
    out: dict[str, float] = {}
    for i, (a, x) in enumerate(df.select("asset_id", "usd_notional").iter_rows(), start=2):
        asset = (a or "").strip().upper()
        asset = al.get(asset, asset)
        if not asset:
            raise MonitorError(f"{what}, column asset_id, line {i}: empty asset id")
        try:
            v = float((x or "").strip())
        except ValueError:
            v = float("nan")
        if not math.isfinite(v):
            raise MonitorError(
                f"{what}, column usd_notional, line {i} ({asset}): {x!r} is not a finite number "
                "of US dollars. What to do: write the signed amount, e.g. -25000 for a short"
            )
        if asset in out:
            raise MonitorError(
                f"{what}, column asset_id, line {i}: {asset} appears twice. What to do: one row "
                "per asset (net the amounts)"
            )
        out[asset] = v
    return out
