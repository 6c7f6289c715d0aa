"""Which symbols ``update binance-archive`` tops up, and from which day: the lake's own (its
importer manifest), the archive's whole listing for a quote asset (``--symbols all``: new
listings and delisted symbols alike), or the named symbols' assets; each from the day after the
lake's last day for it, a new one from the lake's first day."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from . import archive as ar
from . import manifest as mf
from .common import pair_asset, pair_futures
from .fetch import FetchError


@dataclass(frozen=True)
class Target:
    """One symbol of one dataset to top up."""

    ds: ar.Dataset
    symbol: str
    asset_id: str
    quote: str
    first: date  # first day wanted
    lake_last: date | None  # the lake's last day for it (None: new to the lake)
    recorded: tuple[mf.FileRecord, ...] = ()


def resolve_targets(
    datasets: list[ar.Dataset],
    symbols: list[str] | None,
    quote: str,
    manifest: dict[str, Any] | None,
    lake_last: Callable[[ar.Dataset, str, str], date | None],
    lake_first: date | None,
    start: date | None,
    aliases: dict[str, str],
    known: set[str],
    exclude: Collection[str],
    listing: Callable[[ar.Dataset], list[str]],
    notes: list[str],
) -> list[Target]:
    """The symbols to top up per dataset: the manifest's (default), every symbol the archive
    lists for ``quote`` (``symbols == ["ALL"]``), or those of the named symbols' assets."""
    out: list[Target] = []
    spot_assets: set[str] = set()
    wanted_assets: set[str] | None = None
    if symbols is not None and symbols != ["ALL"]:
        wanted_assets = set()
        for s in symbols:
            pair = pair_asset(s, aliases)
            wanted_assets.add(pair[0] if pair is not None else aliases.get(s, s))
    for ds in sorted(datasets, key=lambda d: d is not ar.SPOT_KLINES):
        recorded = mf.symbols(manifest, ds.key)
        chosen: dict[str, tuple[str, str]] = {}  # symbol -> (asset, quote)
        for sym, e in recorded.items():
            asset = e["asset_id"]
            if wanted_assets is None and symbols is None:
                chosen[sym] = (asset, e.get("quote", quote))
            elif wanted_assets is not None and asset in wanted_assets:
                chosen[sym] = (asset, e.get("quote", quote))
            elif symbols == ["ALL"]:
                chosen[sym] = (asset, e.get("quote", quote))
        if symbols is not None:
            names = listing(ds)
            if not names and wanted_assets is not None:
                names = [a + quote for a in sorted(wanted_assets)]
            taken = {a for a, _ in chosen.values()} if ds is ar.SPOT_KLINES else set()
            skipped_no_spot = 0
            for sym in names:
                if not sym.endswith(quote) or sym in chosen or "_" in sym:
                    continue
                if ds is ar.SPOT_KLINES:
                    pair = pair_asset(sym, aliases)
                else:
                    pair = pair_futures(sym, known | spot_assets, aliases)
                if pair is None or pair[1] != quote or pair[0] in exclude:
                    continue
                asset = pair[0]
                if wanted_assets is not None and asset not in wanted_assets:
                    continue
                if ds is ar.SPOT_KLINES:
                    if asset in taken:
                        continue  # one spot pair per asset: the lake's stays
                    taken.add(asset)
                elif asset not in known | spot_assets:
                    skipped_no_spot += 1
                    continue
                chosen[sym] = (asset, quote)
            if skipped_no_spot:
                notes.append(
                    f"{ds.label}: {skipped_no_spot} symbols whose asset has no spot prices in the "
                    "lake or this update were left out"
                )
        if ds is ar.SPOT_KLINES:
            spot_assets = {a for a, _ in chosen.values()}
        for sym, (asset, q) in sorted(chosen.items()):
            last = lake_last(ds, sym, asset)
            checked = recorded.get(sym, {}).get("checked_through")
            seen = date.fromisoformat(checked) if last is None and checked else None
            if start is not None:
                first = start
            elif last is not None:
                first = last + timedelta(days=1)
            elif seen is not None:
                first = seen + timedelta(days=1)  # looked for before and found nothing
            elif lake_first is not None:
                first = lake_first
            else:
                raise FetchError(
                    f"{sym} ({ds.label}) is new to the lake and the lake has no first day to "
                    "start it from. What to do: pass --start YYYY-MM-DD"
                )
            files = tuple(mf.files_of(recorded[sym])) if sym in recorded else ()
            out.append(Target(ds, sym, asset, q, first, last, files))
    return out


def stopped_targets(
    targets: list[Target], manifest: dict[str, Any] | None
) -> tuple[list[Target], list[Target]]:
    """(targets to probe, targets an earlier update found stopped: no file after a day while
    the archive went on). By default those are not probed again (``--symbols`` does)."""
    keep, skip = [], []
    for t in targets:
        e = mf.symbols(manifest, t.ds.key).get(t.symbol, {})
        (skip if e.get("stopped_after") else keep).append(t)
    return keep, skip
