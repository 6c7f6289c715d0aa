"""Futures names (``1000``/``1M`` multiplier prefixes), open interest from the archive's daily
metrics, ``--on-conflict replace`` by the instrument's key (no orphans), and ``check-lake``'s
instrument reports: the issue's scenario of ``1000PEPEUSDT`` filed under 1000PEPE, then PEPE."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from majors_alts_monitor import cli
from majors_alts_monitor.lake.data_io import LakeReader
from majors_alts_monitor.lake.importers import binance
from majors_alts_monitor.lake.importers.archive import checksum_text, parse_checksum
from majors_alts_monitor.lake.importers.common import Drops, InputFile, futures_asset
from majors_alts_monitor.lake.importers.merge import merge
from majors_alts_monitor.lake.importers.mirror import split_settlements
from majors_alts_monitor.tests.snapshots import file_stat_snapshot


def ms(d: date, hour: int = 0) -> int:
    return int(datetime(d.year, d.month, d.day, hour, tzinfo=UTC).timestamp() * 1000)


# ---- the rule --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("base", "known", "aliases", "asset"),
    [
        ("1000PEPE", set(), {}, "PEPE"),  # not an asset of the lake: the spot asset
        ("1000PEPE", {"PEPE"}, {}, "PEPE"),
        ("1000SHIB", {"SHIB"}, {}, "SHIB"),
        ("1MBABYDOGE", set(), {}, "BABYDOGE"),
        ("1000000MOG", set(), {}, "MOG"),
        ("1000SATS", {"1000SATS"}, {"SATS": "1000SATS"}, "1000SATS"),  # the contract's name stays
        ("1000SATS", set(), {"SATS": "1000SATS"}, "1000SATS"),  # SATS, then the alias
        ("1000PEPE", {"PEPE"}, {"1000PEPE": "1000PEPE"}, "1000PEPE"),  # aliases win
        ("1INCH", set(), {}, "1INCH"),
        ("BTC", {"BTC"}, {}, "BTC"),
    ],
)
def test_futures_asset(base: str, known: set[str], aliases: dict[str, str], asset: str) -> None:
    assert futures_asset(base, known, aliases) == asset


# ---- open interest ---------------------------------------------------------------------------
HEADER = (
    "create_time,symbol,sum_open_interest,sum_open_interest_value,"
    "count_toptrader_long_short_ratio,sum_toptrader_long_short_ratio,count_long_short_ratio,"
    "sum_taker_long_short_vol_ratio"
)


def metrics_file(sym: str, d: date, rows: list[tuple[str, str]]) -> InputFile:
    text = HEADER + "\n" + "".join(f"{t},{sym},1,{v},1,1,1,1\n" for t, v in rows)
    stem = f"{sym}-metrics-{d}"
    return InputFile(f"{stem}.csv", stem, text)


def test_open_interest_is_the_days_last_snapshot() -> None:
    d = date(2024, 1, 2)
    nxt = d + timedelta(days=1)
    files = [
        # rows out of order; 00:00 of the day is the day before's close; 00:00 of the next day
        # is this day's last snapshot
        metrics_file(
            "1000PEPEUSDT",
            d,
            [
                (f"{d} 12:00:00", "5"),
                (f"{nxt} 00:00:00", "7.5"),
                (f"{d} 00:00:00", "1"),
                (f"{d} 23:55:00", "6"),
            ],
        ),  # fmt: skip
        metrics_file("1000PEPEUSDT", nxt, [(f"{nxt} 00:05:00", "8"), (f"{nxt} 23:55:00", "9")]),
        metrics_file("BTCUSDT", d, [(f"{d} 00:00:00", "3")]),  # nothing after 00:00: no day
        metrics_file("ETHUSDT", d, [(f"{d} 23:55:00", "")]),  # no value
    ]
    drops = Drops()
    got = {o.symbol: o for o in binance.parse_metrics_files(files, {}, drops, {"PEPE"})}
    pepe = got["1000PEPEUSDT"]
    assert pepe.asset_id == "PEPE"
    assert pepe.frame.select("date", "open_interest_usd").rows() == [(d, 7.5), (nxt, 9.0)]
    assert "BTCUSDT" not in got and "ETHUSDT" not in got
    assert drops.counts["metrics file without a snapshot in its day"] == 1
    assert any("no sum_open_interest_value" in r for r in drops.counts)
    bad = Drops()
    no_header = InputFile("X-metrics-2024-01-02.csv", "XUSDT-metrics-2024-01-02", "1,2,3\n")
    assert binance.parse_metrics_files([no_header], {}, bad) == []
    assert any("not a metrics file" in r for r in bad.counts)


def write_metrics(folder: Path, sym: str, days: list[date], value: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, d in enumerate(days):
        f = metrics_file(sym, d, [(f"{d} 23:55:00", repr(value * (i + 1)))])
        (folder / f.name).write_text(f.text)


def write_funding(folder: Path, sym: str, days: list[date], rate: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["calc_time,funding_interval_hours,last_funding_rate"]
    lines += [f"{ms(d, h)},8,{rate!r}" for d in days for h in (0, 8, 16)]
    (folder / f"{sym}-fundingRate-{days[0]:%Y-%m}.csv").write_text("\n".join(lines) + "\n")


def write_prices(folder: Path, assets: list[str], days: list[date]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for a in assets:
        lines = [
            f"{ms(d)},1,1,1,{1 + i / 100!r},10,{ms(d) + 86_399_999},1000,1,1,1,0"
            for i, d in enumerate(days)
        ]
        (folder / f"{a}USDT-1d-{days[0]:%Y-%m}.csv").write_text("\n".join(lines) + "\n")


DAYS = [date(2024, 1, 1) + timedelta(days=i) for i in range(31)]


def test_open_interest_import_feeds_the_reader(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "lake"
    write_prices(tmp_path / "px", ["BTC", "PEPE"], DAYS)
    write_metrics(tmp_path / "oi", "BTCUSDT", DAYS, 1e9)
    write_metrics(tmp_path / "oi", "1000PEPEUSDT", DAYS, 2e6)
    assert cli.main(["import", "binance-klines", str(tmp_path / "px"), "--out", str(out)]) == 0
    assert cli.main(["import", "binance-metrics", str(tmp_path / "oi"), "--out", str(out)]) == 0
    oi = pl.read_parquet(out / "fact_open_interest.parquet")
    assert oi.columns == ["asset_id", "instrument_id", "date", "open_interest_usd"]
    assert set(oi["instrument_id"]) == {"BINANCE_UM:BTCUSDT", "BINANCE_UM:1000PEPEUSDT"}
    assert set(oi.filter(pl.col("instrument_id").str.contains("PEPE"))["asset_id"]) == {"PEPE"}
    data = LakeReader(out).read_table("fact_open_interest", None, None, {"BTC", "PEPE"}, _rep())
    assert data is not None and data[1].height == 62
    capsys.readouterr()
    assert cli.main(["check-lake", str(out)]) == 2  # no caps yet, but no instrument problem
    assert "instruments:" not in capsys.readouterr().out


def _rep():  # type: ignore[no-untyped-def]
    from majors_alts_monitor.lake.tables import _Report

    return _Report()


# ---- the scenario: futures names, replace without orphans, check-lake --------------
def test_replace_refiles_an_instrument_whole_and_check_lake_sees_what_was_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "lake"
    write_prices(tmp_path / "px", ["BTC", "ETH", "PEPE"], DAYS)
    write_funding(tmp_path / "fu", "1000PEPEUSDT", DAYS, 1e-4)
    write_funding(tmp_path / "fu", "BTCUSDT", DAYS, 2e-4)
    old = tmp_path / "old.yaml"  # how the earlier importer filed it: under its futures name
    old.write_text("universe:\n  aliases:\n    1000PEPE: 1000PEPE\n")
    assert cli.main(["import", "binance-klines", str(tmp_path / "px"), "--out", str(out)]) == 0
    fu = str(tmp_path / "fu")
    assert cli.main(["import", "binance-funding", fu, "--out", str(out), "--config", str(old)]) == 0
    capsys.readouterr()
    # check-lake names the instrument whose asset has no price, and the spot asset it is
    assert cli.main(["check-lake", str(out)]) == 2  # (no caps in this lake: a table error)
    text = capsys.readouterr().out
    assert "BINANCE_UM:1000PEPEUSDT (asset 1000PEPE, 31 rows; PEPE has prices)" in text
    assert "1000PEPE: PEPE" in text
    # the default import now files it under PEPE: a conflict of the instrument, refused
    snap = file_stat_snapshot(out)
    assert cli.main(["import", "binance-funding", fu, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "instrument BINANCE_UM:1000PEPEUSDT: lake 1000PEPE, import PEPE" in err
    assert "--on-conflict replace" in err and file_stat_snapshot(out) == snap
    # keep: the lake's filing stays, the instrument under one asset
    assert (
        cli.main(["import", "binance-funding", fu, "--out", str(out), "--on-conflict", "keep"]) == 0
    )
    f = pl.read_parquet(out / "fact_funding.parquet")
    assert set(f.filter(pl.col("instrument_id") == "BINANCE_UM:1000PEPEUSDT")["asset_id"]) == {
        "1000PEPE"
    }
    # replace: every row re-filed under PEPE, none left behind (the 502 + 502 orphans)
    assert (
        cli.main(["import", "binance-funding", fu, "--out", str(out), "--on-conflict", "replace"])
        == 0
    )
    text = capsys.readouterr().out
    assert "instruments re-filed (BINANCE_UM:1000PEPEUSDT 1000PEPE -> PEPE)" in text
    f = pl.read_parquet(out / "fact_funding.parquet")
    pepe = f.filter(pl.col("instrument_id") == "BINANCE_UM:1000PEPEUSDT")
    assert pepe.height == 31 and set(pepe["asset_id"]) == {"PEPE"}
    dim = pl.read_parquet(out / "dim_instrument.parquet")
    assert dim.filter(pl.col("instrument_id") == "BINANCE_UM:1000PEPEUSDT")[
        "asset_id"
    ].to_list() == ["PEPE"]
    capsys.readouterr()
    cli.main(["check-lake", str(out)])
    assert "instruments:" not in capsys.readouterr().out


def test_check_lake_refuses_an_instrument_filed_under_two_assets(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    lake = tmp_path / "lake"
    lake.mkdir()
    days = DAYS[:5]
    for t, col, v in (("fact_price", "close", 1.0), ("fact_marketcap", "marketcap", 1e9),
                      ("fact_volume", "volume", 1e6)):  # fmt: skip
        pl.DataFrame(
            {"asset_id": ["BTC"] * 5 + ["PEPE"] * 5, "date": days * 2, col: [v] * 10}
        ).write_parquet(lake / f"{t}.parquet")
    pl.DataFrame(
        {
            "asset_id": ["1000PEPE"] * 5 + ["PEPE"] * 5,
            "instrument_id": ["BINANCE_UM:1000PEPEUSDT"] * 10,
            "date": days * 2,
            "funding_rate": [1e-4] * 10,
        }
    ).write_parquet(lake / "fact_funding.parquet")
    assert cli.main(["check-lake", str(lake)]) == 2
    text = capsys.readouterr().out
    assert "filed under two or more assets" in text
    assert "BINANCE_UM:1000PEPEUSDT (1000PEPE 5 rows, PEPE 5 rows)" in text
    assert "1 instrument problem(s)" in text


def test_merge_refiles_or_refuses() -> None:
    d = DAYS[:2]
    lake = pl.DataFrame(
        {
            "asset_id": ["1000PEPE"] * 2,
            "instrument_id": ["X"] * 2,
            "date": d,
            "funding_rate": [1.0, 2.0],
        }
    )
    new = lake.with_columns(pl.lit("PEPE").alias("asset_id")).head(1)
    with pytest.raises(Exception, match="filed under another asset"):
        merge("fact_funding", lake, new, "error")
    got, n = merge("fact_funding", lake, new, "replace")
    assert got["asset_id"].to_list() == ["PEPE", "PEPE"] and n == 0  # the day not re-imported too
    kept, _ = merge("fact_funding", lake, new, "keep")
    assert kept["asset_id"].to_list() == ["1000PEPE", "1000PEPE"]


# ---- the archive's formats -------------------------------------------------------------------
def test_checksum_files() -> None:
    sha = "ab" * 32
    assert parse_checksum(checksum_text(sha, "X.zip"), "X.zip") == sha
    assert parse_checksum(f"{sha.upper()} *X.zip\n", "X.zip") == sha  # binary-mode marker
    assert parse_checksum(sha, "X.zip") == sha
    assert parse_checksum("<html>not found</html>", "X.zip") is None


@settings(max_examples=300, deadline=None)
@given(
    x=st.floats(min_value=-0.05, max_value=0.05, allow_nan=False, allow_subnormal=False),
    n=st.integers(min_value=1, max_value=24),
    seed=st.integers(0, 10**6),
)
def test_mirrored_settlements_sum_back_exactly_in_any_order(x: float, n: int, seed: int) -> None:
    parts = split_settlements(x, n)
    assert len(parts) == n
    order = list(range(n))
    random.Random(seed).shuffle(order)
    total = 0.0
    for i in order:
        total += parts[i]
    assert total == x
    # pairwise (a tree) too
    vals = [parts[i] for i in order]
    while len(vals) > 1:
        vals = [sum(p) for p in itertools.zip_longest(vals[::2], vals[1::2], fillvalue=0.0)]
    assert vals[0] == x
