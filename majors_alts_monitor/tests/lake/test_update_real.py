"""Issue 20's "done when" on the real Binance lake: ``../shared/data/real_binance`` written out
in the sources' own formats (the Binance archive's spot klines, USD-M funding under its real
futures names such as ``1000PEPEUSDT``, daily metrics for open interest; CoinGecko answers for
market caps), rebuilt by ``import`` (history) and ``update`` from a local HTTP server (two
mornings), gives the same run as the original lake: 0 regime differences, KPIs equal to 1e-9;
an update rerun changes no byte. The recipe is ``benchmarks/roundtrip_real_binance.py``."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from majors_alts_monitor.tests.lake import roundtrip
from majors_alts_monitor.tests.snapshots import file_stat_snapshot

pytestmark = [pytest.mark.real_data, pytest.mark.slow]


def test_real_binance_rebuilt_from_its_sources_gives_the_same_run(
    real_binance_lake: Path, tmp_path: Path
) -> None:
    before = file_stat_snapshot(real_binance_lake)
    rt = roundtrip.build(real_binance_lake, tmp_path)
    assert json.loads(rt.outputs["rerun changed"]) == [], "an update rerun changed the lake"
    # the futures names are the real ones, filed under the spot asset
    f = pl.read_parquet(rt.lake / "fact_funding.parquet")
    pepe = f.filter(pl.col("instrument_id") == "BINANCE_UM:1000PEPEUSDT")
    assert pepe.height > 400 and set(pepe["asset_id"]) == {"PEPE"}
    assert "BINANCE_UM:1000SHIBUSDT" in set(f.filter(pl.col("asset_id") == "SHIB")["instrument_id"])
    res = roundtrip.compare(real_binance_lake, rt.lake, tmp_path)
    assert res["regime_days_different"] == 0, res
    assert res["kpi_differences"] == [], res["kpi_differences"][:10]
    assert file_stat_snapshot(real_binance_lake) == before, "the real lake was touched"
