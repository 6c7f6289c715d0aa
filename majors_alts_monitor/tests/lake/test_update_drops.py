"""Issue 17's accounting of rows left out, on issue 20's new inputs: CoinGecko ``market_chart``
answers (``update coingecko``) and the archive's daily metrics (``import binance-metrics``,
``update binance-archive``) count every row or point they leave out per table and reason, with
the file and line (or the coin and point); broken rows are warnings, and above
``limits.rejected_rows_error_share`` they refuse the import or the update before anything is
written. And ``update`` on a lake an earlier importer wrote without a manifest: refused with
what to do, which works."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from majors_alts_monitor import cli
from majors_alts_monitor.lake.importers import archive as ar
from majors_alts_monitor.lake.importers import binance
from majors_alts_monitor.lake.importers.coingecko import parse_coingecko, parse_market_chart
from majors_alts_monitor.lake.importers.common import SCHEMAS
from majors_alts_monitor.lake.importers.fetch import sha256
from majors_alts_monitor.lake.importers.inputs import Drops, InputFile
from majors_alts_monitor.lake.importers.manifest import MANIFEST
from majors_alts_monitor.morning.verify import verify
from majors_alts_monitor.publish.layout import LakeOut, writing_lake
from majors_alts_monitor.tests.lake.archive_server import ServerState, serve
from majors_alts_monitor.tests.lake.update_fixtures import (
    copy_archive,
    import_history,
    market,
    write_archive,
)
from majors_alts_monitor.tests.snapshots import file_stat_snapshot

TODAY = "2024-03-12"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The synthetic market in the archive's layout, and a lake imported from its first three
    months (copy both to change them)."""
    root = tmp_path_factory.mktemp("drops")
    arch = write_archive(market(), root / "archive")
    lake = root / "lake"
    import_history(arch, lake, ("2023-11", "2023-12", "2024-01"))
    return arch, lake


def ms(d: date, hour: int = 0) -> int:
    return int(datetime(d.year, d.month, d.day, hour, tzinfo=UTC).timestamp() * 1000)


# ---- CoinGecko answers and exports: one accounting -------------------------------------------
def test_market_chart_points_left_out_are_counted_per_table_with_the_point() -> None:
    d = date(2024, 1, 1)
    payload = {
        "prices": [
            [ms(d + timedelta(days=1)), 10.0],
            [ms(d + timedelta(days=2)), -1.0],  # broken: a price <= 0
            [ms(d + timedelta(days=3)), 12.0],
            [ms(d + timedelta(days=3), 13), 12.5],  # the live point: not a daily close
            [ms(d + timedelta(days=4)), 2e13],  # beyond physical sense
        ],
        "market_caps": [
            [ms(d + timedelta(days=1)), 1e9],
            [ms(d + timedelta(days=2)), 0.0],  # CoinGecko's unknown: routine
            [ms(d + timedelta(days=3)), 1.1e9],
            [ms(d + timedelta(days=4)), 1.2e9],
            "garbage",  # not a [time, value] pair
        ],
        "total_volumes": [[ms(d + timedelta(days=k)), 5e6] for k in range(1, 5)],
    }
    drops = Drops()
    got = parse_market_chart(payload, "BTC", drops, "bitcoin (BTC)")
    assert got["fact_price"]["close"].to_list() == [10.0, 12.0]
    assert got["fact_marketcap"]["date"].to_list() == [d, d + timedelta(days=2), d + timedelta(3)]
    man = drops.manifest()["tables"]
    price = man["fact_price"]["rejected"]
    assert price["fact_price: price not a number of the right sign"]["first"] == (
        "bitcoin (BTC) point 2"
    )
    assert price["fact_price: price not a number of the right sign"]["anomaly"] is True
    assert price["fact_price: price beyond physical sense"]["rows"] == 1
    routine = "snapped at a time other than 00:00 UTC (not a daily close)"
    assert price[routine]["anomaly"] is False and price[routine]["rows"] == 1
    cap = man["fact_marketcap"]["rejected"]
    assert cap["fact_marketcap: market_cap missing or 0 (CoinGecko's unknown)"]["rows"] == 1
    assert cap["market_caps entry that is not a [time, value] pair"]["anomaly"] is True
    assert man["fact_price"]["rows_read"] == 5  # the answer's points are the rows read
    assert not any("total_volume" in r for r in man["fact_volume"]["rejected"])
    # the CSV export says the same rows the same way, with the file and line
    lines = ["snapped_at,price,market_cap,total_volume"]
    for k, (p, c) in enumerate([(10.0, 1e9), (-1.0, 0.0), (12.0, 1.1e9)], start=1):
        lines.append(f"{d + timedelta(days=k)} 00:00:00 UTC,{p},{c},5000000.0")
    csv = Drops()
    parse_coingecko(InputFile("btc-usd-max.csv", "btc-usd-max", "\n".join(lines)), "BTC", csv)
    rej = csv.manifest()["tables"]["fact_price"]["rejected"]
    assert rej["fact_price: price not a number of the right sign"]["first"] == (
        "btc-usd-max.csv line 3"
    )


# ---- open interest ---------------------------------------------------------------------------
HEADER = (
    "create_time,symbol,sum_open_interest,sum_open_interest_value,"
    "count_toptrader_long_short_ratio,sum_toptrader_long_short_ratio,count_long_short_ratio,"
    "sum_taker_long_short_vol_ratio"
)


def metrics(sym: str, d: date, body: list[str]) -> InputFile:
    stem = f"{sym}-metrics-{d}"
    return InputFile(f"{stem}.csv", stem, "\n".join([HEADER, *body]) + "\n")


def test_metrics_lines_left_out_name_the_file_and_line() -> None:
    d = date(2024, 1, 2)
    files = [
        metrics(
            "BTCUSDT",
            d,
            [
                f"{d} 12:00:00,BTCUSDT,1,5.0,1,1,1,1",
                f"{d} 23:55:00,BTCUSDT,1,6.0,1,1",  # cut short: 6 fields
                f"{d} 23:50:00,BTCUSDT,1,5.5,1,1,1,1",
            ],
        ),
        metrics("ETHUSDT", d, [f"{d} 23:55:00,ETHUSDT,1,-3,1,1,1,1"]),  # negative
        metrics("SOLUSDT", d, [f"{d} 23:55:00,SOLUSDT,1,abc,1,1,1,1"]),  # not a number
        metrics("XRPUSDT", d, [f"{d} 23:55:00,XRPUSDT,1,2e16,1,1,1,1"]),  # beyond sense
        metrics("ADAUSDT", d, ["soon,ADAUSDT,1,4.0,1,1,1,1"]),  # not a timestamp
    ]
    drops = Drops()
    got = {o.symbol: o for o in binance.parse_metrics_files(files, {}, drops)}
    # the malformed line is left out, the day's last snapshot of the others is kept
    assert got["BTCUSDT"].frame.select("date", "open_interest_usd").rows() == [(d, 5.5)]
    assert set(got) == {"BTCUSDT"}
    rej = drops.manifest()["tables"]["fact_open_interest"]["rejected"]
    bad_line = "malformed or truncated line (6 fields, 8 expected)"
    assert rej[bad_line] == {"rows": 1, "first": "BTCUSDT-metrics-2024-01-02.csv line 3",
                             "anomaly": True}  # fmt: skip
    sign = rej["sum_open_interest_value not a number of the right sign"]
    assert sign["rows"] == 2 and sign["first"] == "ETHUSDT-metrics-2024-01-02.csv line 2"
    assert rej["open interest beyond physical sense (above 1e15 USD)"]["rows"] == 1
    assert rej["create_time is not a timestamp"]["first"] == "ADAUSDT-metrics-2024-01-02.csv line 2"
    assert drops.manifest()["tables"]["fact_open_interest"]["rows_read"] == 7
    assert drops.refusal(0.05) is not None and "fact_open_interest" in drops.refusal(0.05)


def _zip(name: str, text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(name, text)
    return buf.getvalue()


def test_import_and_update_refuse_broken_metrics_before_writing(
    world: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Broken open-interest rows above the limit: the import is refused (exit 2), the lake
    untouched; an update fetching such a file from the archive is refused the same way."""
    arch = world[0]
    lake = shutil.copytree(world[1], tmp_path / "lake", symlinks=True)
    snap = file_stat_snapshot(lake)
    # a metrics file whose snapshots are cut short (a truncated download re-zipped)
    bad = tmp_path / "bad"
    bad.mkdir()
    d = date(2024, 2, 1)
    rows = [f"{d} {h:02d}:00:00,BTCUSDT,1,{h}.0" for h in range(1, 24)]  # 4 fields
    (bad / f"BTCUSDT-metrics-{d}.csv").write_text("\n".join([HEADER, *rows]) + "\n")
    assert cli.main(["import", "binance-metrics", str(bad), "--out", str(lake)]) == 2
    err = capsys.readouterr().err
    assert "import refused: fact_open_interest" in err and "line 2" in err
    assert file_stat_snapshot(lake) == snap
    # the archive re-publishes BTC's open interest for February 1st in that shape
    arch = copy_archive(arch, tmp_path / "archive")
    rel = ar.UM_METRICS.path("BTCUSDT", d.isoformat())
    data = _zip(f"BTCUSDT-metrics-{d}.csv", "\n".join([HEADER, *rows]) + "\n")
    (arch / rel).write_bytes(data)
    (arch / (rel + ".CHECKSUM")).write_text(ar.checksum_text(sha256(data), Path(rel).name))
    with serve(ServerState(arch)) as url:
        code = cli.main(
            ["update", "binance-archive", "--out", str(lake), "--base-url", url, "--cache",
             str(tmp_path / "cache"), "--today", TODAY, "--retries", "0", "--symbols",
             "BTCUSDT", "--datasets", "metrics"]
        )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    assert "update refused: fact_open_interest" in err and f"BTCUSDT-metrics-{d}" in err
    assert file_stat_snapshot(lake) == snap


# ---- a lake an earlier importer wrote (generations, no manifest) ------------------------------
def test_update_on_an_earlier_importers_lake_says_to_reimport_which_works(
    world: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    arch, src = world
    # what issue 17's importer left: the same tables in a generation, no importer manifest
    lake = tmp_path / "lake"
    tables = {
        rel.removesuffix(".parquet"): p.read_bytes()
        for rel, p in LakeOut(src).store.current_files().items()
        if rel.endswith(".parquet")
    }
    with writing_lake(lake, SCHEMAS) as lk:
        lk.publish(tables, {"imports": [{"source": "binance-klines"}]})
    assert not (lake / MANIFEST).exists()
    with serve(ServerState(arch)) as url:
        argv = ["update", "binance-archive", "--out", str(lake), "--base-url", url, "--cache",
                str(tmp_path / "cache"), "--today", TODAY, "--retries", "0"]  # fmt: skip
        snap = file_stat_snapshot(lake)
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert "earlier version of majors-alts import" in err and "same --out" in err
        assert file_stat_snapshot(lake) == snap
        # what the message says: the import commands again into the same lake
        before = {n: pl.read_parquet(lake / f"{n}.parquet") for n in tables}
        kl = sorted(
            p
            for m in ("2023-11", "2023-12", "2024-01")
            for p in (arch / "data/spot/monthly/klines").glob(f"*/1d/*-{m}.zip")
        )
        assert cli.main(["import", "binance-klines", *map(str, kl), "--out", str(lake)]) == 0
        out = capsys.readouterr().out
        assert f"tables unchanged; {MANIFEST} updated" in out
        for n, df in before.items():  # the rows already there stay as they are
            assert pl.read_parquet(lake / f"{n}.parquet").equals(df)
        assert json.loads((lake / MANIFEST).read_text())["sources"]
        assert cli.main(argv) == 0
    assert not verify(lake).problems
    px = pl.read_parquet(lake / "fact_price.parquet")
    assert px["date"].max() == date(2024, 3, 11)
    shutil.rmtree(tmp_path / "cache", ignore_errors=True)
