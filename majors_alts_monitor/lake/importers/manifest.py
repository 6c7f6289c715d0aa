"""The importer manifest: what fed a lake written by ``majors-alts import`` and ``update``.

``importer_manifest.json`` sits beside the tables of a lake the importers wrote (and only
there: ``update`` refuses a folder without one, so it never writes into a lake it did not
create). It records, per source dataset and symbol, the asset (and instrument) the rows are
filed under, the span they cover, and the recent source files with their sha256 (the archive's
``.CHECKSUM``), so that ``update`` knows what to top up, which month still rests on daily files
until its monthly file is published, and which file the archive has re-published since.

Files are kept for the last ``KEEP_FILES_DAYS`` days of each symbol's span (older ones are
summarised by the span): the manifest stays small however long the history. It is rendered
deterministically (sorted keys, no timestamps), so an import or update that changes nothing
leaves it byte for byte as it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from ...errors import MonitorError

MANIFEST = "importer_manifest.json"
FORMAT = 1
KEEP_FILES_DAYS = 70
# source datasets a lake can be fed from
SPOT_KLINES = "binance_spot_klines_1d"
UM_FUNDING = "binance_um_funding"
UM_METRICS = "binance_um_metrics"
COINGECKO = "coingecko"
DATASETS = (SPOT_KLINES, UM_FUNDING, UM_METRICS, COINGECKO)


@dataclass(frozen=True)
class FileRecord:
    """One source file: its name without extension, sha256 of its bytes, ``monthly``, ``daily``
    or ``file`` (an export that is not an archive file), and the days it covers."""

    name: str
    sha256: str
    kind: str
    first: date
    last: date

    def as_json(self) -> dict[str, str]:
        return {
            "sha256": self.sha256,
            "kind": self.kind,
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
        }


@dataclass(frozen=True)
class SourceRecord:
    """What one import or update learnt about one symbol of one dataset."""

    dataset: str
    symbol: str
    asset_id: str
    first: date | None = None
    last: date | None = None
    files: tuple[FileRecord, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)  # instrument_id, quote, coin_id


def manifest_path(out: Path) -> Path:
    return Path(out) / MANIFEST


def load(out: Path) -> dict[str, Any] | None:
    """The lake's importer manifest, or None when the folder has none."""
    p = manifest_path(out)
    if not p.is_file():
        return None
    try:
        m = json.loads(p.read_text())
    except (OSError, ValueError) as err:
        raise MonitorError(
            f"the importer manifest {p} cannot be read ({type(err).__name__}: {err}). What to "
            "do: restore it, or rebuild the lake with majors-alts import into a new --out"
        ) from None
    if not isinstance(m, dict) or m.get("format") != FORMAT or "sources" not in m:
        raise MonitorError(
            f"the importer manifest {p} is not one this version wrote (format "
            f"{m.get('format') if isinstance(m, dict) else '?'}, expected {FORMAT}). What to "
            "do: rebuild the lake with majors-alts import into a new --out"
        )
    return m


def symbols(m: dict[str, Any] | None, dataset: str) -> dict[str, dict[str, Any]]:
    """The symbols of ``dataset`` the manifest records, with their entries."""
    return dict((m or {}).get("sources", {}).get(dataset, {}))


def files_of(entry: dict[str, Any]) -> list[FileRecord]:
    return [
        FileRecord(
            n, f["sha256"], f["kind"], date.fromisoformat(f["first"]), date.fromisoformat(f["last"])
        )
        for n, f in sorted(entry.get("files", {}).items())
    ]


def updated(old: dict[str, Any] | None, records: Iterable[SourceRecord]) -> dict[str, Any]:
    """``old`` with ``records`` merged in: a symbol's asset and extras are the latest, its span
    the union, its files the union (a re-published file's entry replaces the old one), pruned
    to the last ``KEEP_FILES_DAYS`` days of the span."""
    m: dict[str, Any] = {
        "format": FORMAT,
        "sources": json.loads(json.dumps((old or {}).get("sources", {}))),
    }
    for r in records:
        ds = m["sources"].setdefault(r.dataset, {})
        e = ds.setdefault(r.symbol, {"asset_id": r.asset_id, "files": {}})
        e["asset_id"] = r.asset_id
        e.update(r.extra)
        for k, v, pick in (("first", r.first, min), ("last", r.last, max)):
            if v is not None:
                e[k] = pick(v, date.fromisoformat(e[k])).isoformat() if k in e else v.isoformat()
        files = e.setdefault("files", {})
        for f in r.files:
            files[f.name] = f.as_json()
            for k, v, pick in (("first", f.first, min), ("last", f.last, max)):
                e[k] = pick(v, date.fromisoformat(e[k])).isoformat() if k in e else v.isoformat()
        if "last" in e:
            keep_from = date.fromisoformat(e["last"]) - timedelta(days=KEEP_FILES_DAYS)
            e["files"] = {
                n: f for n, f in sorted(files.items()) if date.fromisoformat(f["last"]) >= keep_from
            }
    return m


def render(m: dict[str, Any]) -> bytes:
    return (json.dumps(m, indent=1, sort_keys=True) + "\n").encode()
