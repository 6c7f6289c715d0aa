"""Every table one command reads comes from one generation of a lake the importers wrote
(review defect 3): an import or ``update`` that switches ``current`` between two table opens
changes nothing the command reads, and the lake fingerprint the ledger records is that
generation's."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from majors_alts_monitor import cli
from majors_alts_monitor.lake.data_io import LakeReader
from majors_alts_monitor.lake.synthetic import generate
from majors_alts_monitor.lake.tables import _Report
from majors_alts_monitor.publish.layout import LakeOut
from majors_alts_monitor.tests.publish.conftest import SPEC, write_klines


def _assets(reader: LakeReader) -> dict[str, set[str]]:
    """The assets of the two tables the importer wrote, opened one after the other."""
    out = {}
    for name in ("fact_price", "fact_volume"):
        got = reader.read_table(name, None, None, set(), _Report())
        assert got is not None
        out[name] = set(got[1]["asset_id"].unique())
    return out


def _import(klines: Path, lake: Path) -> None:
    assert cli.main(["import", "binance-klines", str(klines), "--out", str(lake)]) == 0


@pytest.fixture
def two_imports(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    gen = generate(SPEC)
    alts = sorted(
        a for a in gen.tables["fact_price"]["asset_id"].unique() if a not in {"USDT", "USDC"}
    )
    write_klines(gen.tables, tmp_path / "old", alts[:3])
    write_klines(gen.tables, tmp_path / "new", alts[:6])
    lake = tmp_path / "lake"
    _import(tmp_path / "old", lake)
    return lake, tmp_path / "new", alts


def test_a_generation_switched_between_two_table_opens_changes_nothing_read(
    two_imports: tuple[Path, Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    lake, new, alts = two_imports
    reader = LakeReader(lake)
    first_gen = LakeOut(lake).store.current()
    fp = reader.fingerprint()
    scan = LakeReader._scan
    switched: list[str] = []

    def scan_then_switch(self, src, spec, *a, **kw):  # type: ignore[no-untyped-def]
        out = scan(self, src, spec, *a, **kw)
        if not switched:  # an update publishes right after the command's first table open
            _import(new, lake)
            switched.append(spec.name)
        return out

    monkeypatch.setattr(LakeReader, "_scan", scan_then_switch)
    assets = _assets(reader)
    assert switched and LakeOut(lake).store.current() != first_gen  # the lake did move on
    assert assets["fact_price"] == assets["fact_volume"] == set(alts[:3])
    assert reader.source("fact_volume").path.parent == first_gen  # not the link
    assert reader.fingerprint() == fp  # the ledger's fingerprint: the generation read
    # a reader made now reads the new generation, whole
    monkeypatch.setattr(LakeReader, "_scan", scan)
    got = _assets(LakeReader(lake))
    assert got["fact_price"] == got["fact_volume"] == set(alts[:6])
    assert LakeReader(lake).fingerprint() != fp


def test_the_source_of_a_plain_lake_is_its_own_file(tmp_path: Path) -> None:
    lake = tmp_path / "plain"
    lake.mkdir()
    pl.DataFrame({"asset_id": ["BTC"], "date": [SPEC.start], "close": [1.0]}).write_parquet(
        lake / "fact_price.parquet"
    )
    reader = LakeReader(lake)
    assert reader.generation is None
    assert reader.source("fact_price").path == lake / "fact_price.parquet"
