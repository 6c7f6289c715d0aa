"""Tests of ``majors-alts import`` (Binance klines and funding, CoinGecko) and ``check-lake``.

Fixtures are small files written here in each source's published format (no downloads): the
synthetic lake's prices, volumes and caps are written out as Binance klines (headerless spot
files in milliseconds, microsecond files, headed futures files, daily files, zips) and as
CoinGecko exports, imported back, and compared with the synthetic tables they came from. The
imported lake must pass a full ``run``; re-importing must change no byte.
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from majors_alts_monitor import cli
from majors_alts_monitor.lake.data_io import LakeReader
from majors_alts_monitor.lake.importers import binance, coingecko
from majors_alts_monitor.lake.importers.common import Drops, InputFile, merge, pair_asset
from majors_alts_monitor.lake.synthetic import SyntheticLake, SyntheticSpec, generate
from majors_alts_monitor.tests.snapshots import file_stat_snapshot

SPEC = SyntheticSpec(n_assets=14, start=date(2020, 1, 1), end=date(2021, 10, 31), seed=5)
STABLES = {"USDT", "USDC", "FDUSD"}
SMALL_RUN = "walkforward:\n  train_days: 200\n  test_days: 60\nstats:\n  n_boot: 200\n"
HEADER = ",".join(binance.KLINE_COLUMNS)
DAY_MS = 86_400_000


def epoch_ms(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000)


def kline_lines(rows: pl.DataFrame, micro: bool = False) -> list[str]:
    """Binance 1d kline rows (open_time ... ignore) from (date, close, volume) rows."""
    out = []
    for d, close, vol in rows.select("date", "close", "volume").iter_rows():
        t = epoch_ms(d)
        o, c = (t * 1000, (t + DAY_MS) * 1000 - 1) if micro else (t, t + DAY_MS - 1)
        base = vol / close
        out.append(
            f"{o},{close!r},{close * 1.01!r},{close * 0.98!r},{close!r},{base!r},{c},{vol!r},"
            f"1234,{base / 2!r},{vol / 2!r},0"
        )
    return out


def write_klines(lake: SyntheticLake, folder: Path) -> dict[str, str]:
    """One folder of klines in every layout Binance publishes; returns asset -> layout."""
    price = lake.tables["fact_price"].join(lake.tables["fact_volume"], on=["asset_id", "date"])
    layouts = ["spot_ms", "futures_header", "spot_us", "daily_zip", "monthly_zip"]
    used: dict[str, str] = {}
    assets = sorted(set(price["asset_id"].unique()) - STABLES)
    for i, asset in enumerate(assets):
        layout = layouts[i % len(layouts)]
        used[asset] = layout
        symbol = ("SATS" if asset == "1000SATS" else asset) + "USDT"  # SATS -> 1000SATS alias
        rows = price.filter(pl.col("asset_id") == asset).sort("date")
        months = rows.with_columns(pl.col("date").dt.strftime("%Y-%m").alias("m"))
        for (m,), part in months.group_by("m", maintain_order=True):
            name = f"{symbol}-1d-{m}"
            if layout == "daily_zip":
                buf = io.BytesIO()
                with zipfile.ZipFile(buf, "w") as zf:
                    for line, d in zip(kline_lines(part), part["date"], strict=True):
                        zf.writestr(f"{symbol}-1d-{d}.csv", line + "\n")
                (folder / f"{name}.zip").write_bytes(buf.getvalue())
                continue
            lines = kline_lines(part, micro=layout == "spot_us")
            if layout == "futures_header":
                lines = [HEADER, *lines]
            text = "\n".join(lines) + "\n"
            if layout == "monthly_zip":
                buf = io.BytesIO()
                with zipfile.ZipFile(buf, "w") as zf:
                    zf.writestr(f"{name}.csv", text)
                (folder / f"{name}.zip").write_bytes(buf.getvalue())
            else:
                (folder / f"{name}.csv").write_text(text)
    return used


def write_coingecko(lake: SyntheticLake, folder: Path) -> None:
    """CoinGecko exports: the row snapped at 00:00 of d+1 holds day d; a live last row."""
    t = lake.tables
    df = (
        t["fact_price"]
        .join(t["fact_marketcap"], on=["asset_id", "date"])
        .join(t["fact_volume"], on=["asset_id", "date"])
    )
    for asset in sorted(set(df["asset_id"].unique()) - STABLES):
        rows = df.filter(pl.col("asset_id") == asset).sort("date")
        lines = ["snapped_at,price,market_cap,total_volume"]
        for d, close, cap, vol in rows.select("date", "close", "marketcap", "volume").iter_rows():
            lines.append(f"{d + timedelta(days=1)} 00:00:00 UTC,{close!r},{cap!r},{vol!r}")
        lines.append(f"{SPEC.end + timedelta(days=1)} 13:45:07 UTC,1.0,2.0,3.0")  # live row
        (folder / f"{asset.lower()}-usd-max.csv").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> tuple[SyntheticLake, Path, Path]:
    lake = generate(SPEC)
    root = tmp_path_factory.mktemp("exports")
    (root / "klines").mkdir()
    (root / "coingecko").mkdir()
    write_klines(lake, root / "klines")
    write_coingecko(lake, root / "coingecko")
    return lake, root / "klines", root / "coingecko"


def synthetic_table(lake: SyntheticLake, table: str) -> pl.DataFrame:
    return (
        lake.tables[table]
        .filter(~pl.col("asset_id").is_in(sorted(STABLES)))
        .sort("asset_id", "date")
    )


# ---- end to end ----------------------------------------------------------------------------
def test_binance_and_coingecko_import_into_a_lake_a_run_accepts(
    exports: tuple[SyntheticLake, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    lake, klines, cg = exports
    out = tmp_path / "mylake"
    before = file_stat_snapshot(klines.parent)
    assert cli.main(["import", "binance-klines", str(klines), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "fact_price" in text and "fact_volume" in text and "written" in text
    assert cli.main(
        ["import", "coingecko", *map(str, sorted(cg.iterdir())), "--out", str(out),
         "--tables", "fact_marketcap"]
    ) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "snapped at a time other than 00:00 UTC" in text  # the live row, dropped and said
    assert file_stat_snapshot(klines.parent) == before, "the import touched its inputs"
    # the imported tables are the synthetic ones, value for value (repr round-trips floats)
    for table, col in (
        ("fact_price", "close"),
        ("fact_volume", "volume"),
        ("fact_marketcap", "marketcap"),
    ):
        got = pl.read_parquet(out / f"{table}.parquet").select("asset_id", "date", col)
        assert_frame_equal(got, synthetic_table(lake, table).select("asset_id", "date", col))
    px = pl.read_parquet(out / "fact_price.parquet")
    assert px.columns == ["asset_id", "date", "close", "open", "high", "low"]
    assert "1000SATS" in px["asset_id"].to_list()  # SATSUSDT -> SATS -> alias 1000SATS
    # a run accepts it end to end
    cfg = tmp_path / "small.yaml"
    cfg.write_text(SMALL_RUN)
    root = tmp_path / "outputs"
    code = cli.main(
        ["run", "--lake", str(out), "--config", str(cfg), "--output-root", str(root), "--quiet"]
    )
    assert code == 0, capsys.readouterr().err
    assert (root / "reports/majors_alts/kpis.json").is_file()
    # re-importing the same inputs changes no byte (and no mtime)
    snap = file_stat_snapshot(out)
    assert cli.main(["import", "binance-klines", str(klines), "--out", str(out)]) == 0
    assert cli.main(
        ["import", "coingecko", *map(str, sorted(cg.iterdir())), "--out", str(out),
         "--tables", "fact_marketcap"]
    ) == 0  # fmt: skip
    assert "unchanged" in capsys.readouterr().out
    assert file_stat_snapshot(out) == snap
    # check-lake on it: exit 0 and a row per table
    assert cli.main(["check-lake", str(out)]) == 0
    text = capsys.readouterr().out
    assert "fact_marketcap" in text and "passes" in text


def test_coingecko_alone_makes_a_complete_lake_and_conflicts_are_refused(
    exports: tuple[SyntheticLake, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    lake, klines, cg = exports
    out = tmp_path / "cg"
    files = sorted(map(str, cg.iterdir()))
    assert cli.main(["import", "coingecko", *files, "--out", str(out)]) == 0
    data = LakeReader(out, exclude=STABLES).read()
    assert_frame_equal(
        data.tables["fact_marketcap"]
        .select("asset_id", "date", "marketcap")
        .sort("asset_id", "date"),
        synthetic_table(lake, "fact_marketcap").select("asset_id", "date", "marketcap"),
    )
    # the Binance close for a day differs from CoinGecko's only by a hair, still a conflict
    px = pl.read_parquet(out / "fact_price.parquet")
    px.with_columns(pl.col("close") * (1 + 1e-9)).write_parquet(out / "fact_price.parquet")
    snap = file_stat_snapshot(out)
    code = cli.main(["import", "coingecko", *files, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "fact_price" in err and "first offending key" in err
    assert "--on-conflict" in err and "Traceback" not in err
    assert file_stat_snapshot(out) == snap, "a refused import must leave the lake as it was"
    assert (
        cli.main(["import", "coingecko", *files, "--out", str(out), "--on-conflict", "keep"]) == 0
    )
    assert "conflicting keys resolved" in capsys.readouterr().out
    assert_frame_equal(
        pl.read_parquet(out / "fact_price.parquet").select(px.columns),
        px.with_columns(pl.col("close") * (1 + 1e-9)),
    )
    assert (
        cli.main(["import", "coingecko", *files, "--out", str(out), "--on-conflict", "replace"])
        == 0
    )
    assert_frame_equal(pl.read_parquet(out / "fact_price.parquet").select(px.columns), px)


def test_import_refuses_an_out_inside_its_inputs(
    exports: tuple[SyntheticLake, Path, Path], capsys: pytest.CaptureFixture
) -> None:
    _, klines, _ = exports
    assert cli.main(["import", "binance-klines", str(klines), "--out", str(klines / "lake")]) == 2
    assert "outside the input" in capsys.readouterr().err
    assert not (klines / "lake").exists()


def test_import_refuses_to_shadow_a_partitioned_table(
    exports: tuple[SyntheticLake, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _, _, cg = exports
    (tmp_path / "lake" / "fact_volume" / "year=2020").mkdir(parents=True)
    files = sorted(map(str, cg.iterdir()))
    assert cli.main(["import", "coingecko", *files, "--out", str(tmp_path / "lake")]) == 2
    assert "fact_volume is a folder of partitions" in capsys.readouterr().err
    assert not (tmp_path / "lake" / "fact_price.parquet").exists()  # nothing written


# ---- klines parsing ----------------------------------------------------------------------------
def test_klines_units_headers_and_drops() -> None:
    d = date(2025, 1, 1)
    ms, us = epoch_ms(d), epoch_ms(d) * 1000
    spot_us = f"{us},1,2,0.5,1.5,10,{us + DAY_MS * 1000 - 1},15.0,3,5,7.5,0\n"
    drops = Drops()
    k = binance.parse_klines(InputFile("x", "BTCUSDT-1d-2025-01-01", spot_us), {}, drops)
    assert k is not None and k.asset_id == "BTC" and k.quote == "USDT"
    assert k.frame.row(0) == ("BTC", d, 1.0, 2.0, 0.5, 1.5, 15.0, "x")  # ..., src
    fut = HEADER + f"\n{ms},1,2,0.5,1.5,10,{ms + DAY_MS - 1},15.0,3,5,7.5,0\n"
    k2 = binance.parse_klines(InputFile("y", "BTCUSDT-1d-2025-01", fut), {}, drops)
    assert k2 is not None
    assert_frame_equal(k.frame.drop("src"), k2.frame.drop("src"))
    bad = (
        f"{ms},1,1,1,0,1,0,1,1,1,1,0\n"  # close 0
        f"{ms + 3_600_000},1,1,1,1,1,0,1,1,1,1,0\n"  # not at midnight
        f"{ms + DAY_MS},1,1,1,2,1,0,-5,1,1,1,0\n"  # negative quote volume
        f"{ms + 2 * DAY_MS},1,1,1,2,1,0,5,1,1,1,0\n"
        f"{ms + 3 * DAY_MS},1,1,1,2,1,0,inf,1,1,1,0\n"  # infinite quote volume (review 11)
    )
    k3 = binance.parse_klines(InputFile("z", "ETHUSDC-1d-2025-01", bad), {}, drops)
    assert k3 is not None and k3.frame.height == 1 and k3.quote == "USDC"
    assert set(drops.counts) == {
        "close missing or <= 0",
        "candle does not open at 00:00 UTC",
        "quote_volume missing or < 0",
        "quote_volume not a finite number (NaN or infinite)",
    }
    for name, reason in [
        ("BTCUSDT-1h-2025-01", "interval 1h"),
        ("ETHBTC-1d-2025-01", "not quoted in USD"),
        ("BTCUSDT_250328-1d-2025-01", "dated future"),
        ("notes", "file name"),
    ]:
        dr = Drops()
        assert binance.parse_klines(InputFile(name, name, spot_us), {}, dr) is None
        assert any(reason in r for r in dr.counts), (name, dr.counts)


def test_overlapping_files_and_several_pairs_for_one_asset() -> None:
    d = date(2024, 3, 1)
    row = f"{epoch_ms(d)},1,1,1,2,1,0,5,1,1,1,0\n"
    other = f"{epoch_ms(d)},1,1,1,3,1,0,5,1,1,1,0\n"
    day2 = f"{epoch_ms(d) + DAY_MS},1,1,1,2,1,0,5,1,1,1,0\n"
    drops = Drops()
    parts = [
        binance.parse_klines(InputFile("m", "BTCUSDT-1d-2024-03", row + day2), {}, drops),
        binance.parse_klines(InputFile("d", "BTCUSDT-1d-2024-03-01", row), {}, drops),
        binance.parse_klines(InputFile("c", "BTCUSDC-1d-2024-03", row), {}, drops),
    ]
    out = binance.combine_klines([p for p in parts if p is not None], drops)
    assert out.height == 2 and out["close"].to_list() == [2.0, 2.0]
    assert any("identical row" in r for r in drops.counts)
    assert any("most days is kept" in r for r in drops.counts)
    clash = binance.parse_klines(InputFile("f", "BTCUSDT-1d-2024-03-01", other), {}, drops)
    with pytest.raises(Exception, match="two different candles") as e:
        binance.combine_klines([parts[0], clash], drops)  # type: ignore[list-item]
    assert "(in f and m)" in str(e.value)  # both files named


def test_pair_asset_strips_the_quote_and_applies_aliases() -> None:
    assert pair_asset("BTCUSDT", {}) == ("BTC", "USDT")
    assert pair_asset("ETHFDUSD", {}) == ("ETH", "FDUSD")
    assert pair_asset("BTCUSD_PERP", {}) == ("BTC", "USD")
    assert pair_asset("SATSUSDT", {"SATS": "1000SATS"}) == ("1000SATS", "USDT")
    assert pair_asset("1000PEPEUSDT", {}) == ("1000PEPE", "USDT")
    assert pair_asset("ETHBTC", {}) is None


# ---- funding ---------------------------------------------------------------------------------
def settlements(day: date, hours: list[int], interval: list[int] | int, rate: float = 1e-4) -> list:
    iv = interval if isinstance(interval, list) else [interval] * len(hours)
    return [(epoch_ms(day) + h * 3_600_000, i, rate) for h, i in zip(hours, iv, strict=True)]


def funding_frame(rows: list) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["ms", "interval_h", "rate"], orient="row")


@pytest.mark.parametrize("interval", [8, 4, 1])
def test_daily_funding_sums_each_interval(interval: int) -> None:
    d = date(2024, 1, 1)
    hours = list(range(0, 24, interval))
    rows = settlements(d, hours, interval) + settlements(d + timedelta(days=1), hours, interval)
    day, notes = binance.daily_funding(funding_frame(rows), "drop", Drops(), "X")
    # a hand sum: 24/interval settlements of 0.0001 a day (three 8h make 0.0003)
    assert day["funding_rate"].to_list() == pytest.approx([1e-4 * 24 / interval] * 2, abs=1e-15)
    assert day["complete"].all() and notes == []


def test_interval_change_day_is_complete_and_listed() -> None:
    d = date(2024, 1, 1)
    rows = (
        settlements(d, [0, 8, 16], 8)
        + settlements(d + timedelta(days=1), [0, 8, 12, 16, 20], [8, 8, 4, 4, 4])
        + settlements(d + timedelta(days=2), [0, 4, 8, 12, 16, 20], 4)
    )
    day, notes = binance.daily_funding(funding_frame(rows), "drop", Drops(), "BTCUSDT")
    assert day["complete"].all()
    assert day["funding_rate"].to_list() == pytest.approx([3e-4, 5e-4, 6e-4], abs=1e-15)
    assert notes == ["BTCUSDT: funding interval 8h -> 4h on 2024-01-02"]


def test_partial_days_dropped_or_kept() -> None:
    d = date(2024, 1, 1)
    rows = (
        settlements(d, [8, 16], 8)  # starts mid-day: the 00:00 settlement is not in the record
        + settlements(d + timedelta(days=1), [0, 16], 8)  # 08:00 missing
        + settlements(d + timedelta(days=2), [0, 8, 16], 8)
        + settlements(d + timedelta(days=3), [0, 8], 8)  # 16:00 missing
    )
    drops = Drops()
    day, _ = binance.daily_funding(funding_frame(rows), "drop", drops, "X")
    assert day["date"].to_list() == [d + timedelta(days=2)]
    assert drops.counts == {"partial funding day (a settlement missing from the record)": 3}
    kept, notes = binance.daily_funding(funding_frame(rows), "keep", Drops(), "X")
    assert kept.height == 4 and kept["complete"].to_list() == [False, False, True, False]
    assert kept["funding_rate"].to_list() == pytest.approx([2e-4, 2e-4, 3e-4, 2e-4], abs=1e-15)
    assert "3 partial days kept" in notes[0]


def test_import_binance_funding_writes_a_lake_table_the_reader_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    src = tmp_path / "funding"
    src.mkdir()
    d = date(2024, 1, 1)
    rows = [settlements(d + timedelta(days=i), [0, 8, 16], 8, 1e-4 * (i + 1)) for i in range(31)]
    lines = ["calc_time,funding_interval_hours,last_funding_rate"]
    lines += [f"{ms + 3},{iv},{r!r}" for day in rows for ms, iv, r in day]  # a few ms late
    (src / "BTCUSDT-fundingRate-2024-01.csv").write_text("\n".join(lines) + "\n")
    eth = [
        f"{ms * 1000},{iv},{-r!r}" for ms, iv, r in settlements(d, [0, 8, 16], 8)
    ]  # microseconds
    (src / "ETHUSDT-fundingRate-2024-01.csv").write_text("\n".join(eth) + "\n")
    out = tmp_path / "lake"
    assert cli.main(["import", "binance-funding", str(src), "--out", str(out)]) == 0
    f = pl.read_parquet(out / "fact_funding.parquet")
    assert f.columns == ["asset_id", "instrument_id", "date", "funding_rate"]
    btc = f.filter(pl.col("asset_id") == "BTC")
    assert btc.height == 31 and btc["instrument_id"][0] == "BINANCE_UM:BTCUSDT"
    assert btc["funding_rate"].to_list() == pytest.approx([3e-4 * (i + 1) for i in range(31)])
    assert f.filter(pl.col("asset_id") == "ETH")["funding_rate"].to_list() == pytest.approx([-3e-4])
    inst = pl.read_parquet(out / "dim_instrument.parquet")
    assert inst.row(0, named=True) == {
        "instrument_id": "BINANCE_UM:BTCUSDT",
        "asset_id": "BTC",
        "venue": "binance",
        "instrument_type": "perp",
        "quote": "USDT",
    }
    assert "fact_funding" in capsys.readouterr().out
    snap = file_stat_snapshot(out)
    assert cli.main(["import", "binance-funding", str(src), "--out", str(out)]) == 0
    assert file_stat_snapshot(out) == snap and "unchanged" in capsys.readouterr().out
    assert cli.main(["check-lake", str(out)]) == 2  # no prices: not a lake a run accepts yet
    text = capsys.readouterr().out
    assert "not read by the monitor: dim_instrument.parquet" in text
    assert text.split("fact_funding", 1)[1].split()[:2] == ["32", "2"]  # rows, assets


# ---- coingecko -------------------------------------------------------------------------------
def test_coingecko_dates_a_midnight_snapshot_to_the_day_before() -> None:
    text = (
        "snapped_at,price,market_cap,total_volume\n"
        "2024-01-02 00:00:00 UTC,42000.5,8.2e11,1.5e10\n"
        "2024-01-03 00:00:00 UTC,43000.0,0,1.6e10\n"  # cap unknown
        "2024-01-04 00:00:00 UTC,,8.3e11,\n"
        "2024-01-04 15:20:11 UTC,43500.0,8.4e11,1.7e10\n"  # live row
    )
    drops = Drops()
    name = coingecko.asset_from_name("btc-usd-max")
    t = coingecko.parse_coingecko(InputFile("btc-usd-max.csv", "btc-usd-max", text), name, drops)
    assert t["fact_price"].rows() == [
        ("BTC", date(2024, 1, 1), 42000.5),
        ("BTC", date(2024, 1, 2), 43000.0),
    ]
    assert t["fact_marketcap"].rows() == [
        ("BTC", date(2024, 1, 1), 8.2e11),
        ("BTC", date(2024, 1, 3), 8.3e11),
    ]
    assert t["fact_volume"]["date"].to_list() == [date(2024, 1, 1), date(2024, 1, 2)]
    assert drops.counts["snapped at a time other than 00:00 UTC (not a daily close)"] == 1
    assert drops.counts["fact_marketcap: market_cap missing or 0 (CoinGecko's unknown)"] == 1


def test_merge_by_key() -> None:
    old = pl.DataFrame(
        {"asset_id": ["A", "A"], "date": [date(2024, 1, 1), date(2024, 1, 2)], "volume": [1.0, 2.0]}
    )
    new = pl.DataFrame(
        {"asset_id": ["A", "B"], "date": [date(2024, 1, 2), date(2024, 1, 2)], "volume": [2.0, 5.0]}
    )
    got, clashes = merge("fact_volume", old, new, "error")
    assert clashes == 0 and got.height == 3
    with pytest.raises(Exception, match="first offending key"):
        merge("fact_volume", old, new.with_columns(pl.col("volume") + 1), "error")
    kept, n = merge("fact_volume", old, new.with_columns(pl.col("volume") + 1), "keep")
    assert n == 1 and kept["volume"].to_list() == [1.0, 2.0, 6.0]
    repl, _ = merge("fact_volume", old, new.with_columns(pl.col("volume") + 1), "replace")
    assert repl["volume"].to_list() == [1.0, 3.0, 6.0]


def test_check_lake_names_what_it_found(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    lake = tmp_path / "csvlake"
    lake.mkdir()
    (lake / "fact_price.csv").write_text("asset_id,date,close\nBTC,2024-01-01,1\n")
    assert cli.main(["check-lake", str(lake)]) == 2
    out = capsys.readouterr().out
    assert "found fact_price.csv; only parquet is read" in out and "majors-alts import" in out
    assert "lake table 'fact_marketcap': not found" in out and "3 table(s) with errors" in out
