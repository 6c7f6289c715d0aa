"""``majors-alts update coingecko`` against a CoinGecko-like ``market_chart/range`` endpoint on
127.0.0.1: market caps topped up from the point stamped 00:00 of d+1 (day d), coin ids from
``--ids`` remembered, the API key from the environment, the free plan's 365-day window (the
server refuses older ranges; the client asks within it and says what it could not get),
pending points, an unknown coin id, and a rerun that changes no byte."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from majors_alts_monitor import cli
from majors_alts_monitor.lake.importers.update_coingecko import DEMO_KEY_ENV, PRO_KEY_ENV
from majors_alts_monitor.tests.lake.archive_server import ServerState, serve
from majors_alts_monitor.tests.lake.update_fixtures import (
    import_history,
    market,
    source_tables,
    write_archive,
)
from majors_alts_monitor.tests.snapshots import file_stat_snapshot

KEY = "demo-key-123"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, dict]:
    lake = market()
    root = tmp_path_factory.mktemp("cg")
    arch = write_archive(lake, root / "archive")
    base = root / "lake"
    import_history(arch, base, ("2023-11", "2023-12"))
    # caps through 2023-12-31 from CoinGecko CSV-like rows: import the archive's JSON instead
    coins = {}
    for f in (arch / "coingecko/api/v3/coins").iterdir():
        coins[f.name] = json.loads((f / "market_chart/range").read_text())
    return source_tables(lake), base, coins


def _lake(world: tuple, tmp_path: Path) -> Path:
    import shutil

    out = tmp_path / "lake"
    shutil.copytree(world[1], out)
    return out


def cg(out: Path, url: str, *extra: str, today: str) -> int:
    return cli.main(
        ["update", "coingecko", "--out", str(out), "--base-url", url + "api/v3", "--today",
         today, "--retries", "0", "--timeout", "5", "--min-interval", "0", *extra]
    )  # fmt: skip


def caps(out: Path) -> pl.DataFrame:
    return (
        pl.read_parquet(out / "fact_marketcap.parquet")
        .select("asset_id", "date", "marketcap")
        .sort("asset_id", "date")
    )


def test_caps_topped_up_ids_remembered_and_a_rerun_changes_no_byte(
    world: tuple, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, _, coins = world
    out = _lake(world, tmp_path)
    monkeypatch.setenv(DEMO_KEY_ENV, KEY)
    monkeypatch.delenv(PRO_KEY_ENV, raising=False)
    state = ServerState(tmp_path, coins=coins, api_key=KEY, today=date(2024, 3, 12))
    ids = ",".join(f"{c.upper()}={c}" for c in sorted(coins))
    with serve(state) as url:
        assert cg(out, url, "--ids", ids, "--start", "2023-11-01", today="2024-03-12") == 0
        text = capsys.readouterr().out
        assert "demo API" in text and "fact_marketcap" in text
        want = (
            src["fact_marketcap"]
            .filter(pl.col("date") <= date(2024, 3, 11))
            .select("asset_id", "date", "marketcap")
            .sort("asset_id", "date")
        )
        assert_frame_equal(caps(out), want)
        # the ids are remembered; the next morning asks only for the new day
        snap = file_stat_snapshot(out)
        assert cg(out, url, today="2024-03-12") == 0
        assert file_stat_snapshot(out) == snap
        state.requests.clear()
        assert cg(out, url, today="2024-03-13") == 0
        asked = [r for r in state.requests if "coins/btc/market_chart" in r]
        assert len(asked) == 1 and "from=1710284400" in asked[0]  # 2024-03-13 00:00 - 1 h
    got = caps(out).filter(pl.col("date") == date(2024, 3, 12))
    assert got.height == src["fact_marketcap"].filter(pl.col("date") == date(2024, 3, 12)).height


def test_the_free_plans_365_days_are_asked_within_and_said(
    world: tuple, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, _, coins = world
    out = _lake(world, tmp_path)
    monkeypatch.delenv(DEMO_KEY_ENV, raising=False)
    monkeypatch.delenv(PRO_KEY_ENV, raising=False)
    today = date(2025, 2, 1)  # the lake's caps are older than 365 days
    state = ServerState(tmp_path, coins=coins, today=today)
    with serve(state) as url:
        assert cg(out, url, "--ids", "BTC=btc", "--start", "2023-12-01", today=str(today)) == 0
        text = capsys.readouterr().out
        assert "keyless" in text and "past 365 days only" in text
        assert "BTC 2023-12-01..2024-02-02" in text
        btc = caps(out).filter(pl.col("asset_id") == "BTC")
        assert btc["date"].min() == today - timedelta(days=364)  # nothing older was asked for
        assert btc["date"].max() == date(2024, 3, 20)  # the market's last day
        assert "pending" not in text  # a stop long ago is a note, not pending
        # with a Pro key the whole gap is asked for (the server serves it to the Pro header)
        monkeypatch.setenv(PRO_KEY_ENV, "pro-key")
        assert cg(out, url, "--start", "2023-12-01", today=str(today)) == 0
        assert "pro API" in capsys.readouterr().out
    want = (
        src["fact_marketcap"]
        .filter(pl.col("asset_id") == "BTC", pl.col("date") >= date(2023, 12, 1))
        .select("asset_id", "date", "marketcap")
        .sort("asset_id", "date")
    )
    assert_frame_equal(caps(out), want)


def test_pending_point_unknown_coin_and_the_lake_left_as_it_was(
    world: tuple, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, coins = world
    out = _lake(world, tmp_path)
    monkeypatch.delenv(DEMO_KEY_ENV, raising=False)
    monkeypatch.delenv(PRO_KEY_ENV, raising=False)
    short = {k: {n: v[:-2] for n, v in d.items()} for k, d in coins.items()}  # last 2 days out
    state = ServerState(tmp_path, coins=short, today=date(2024, 3, 21))
    with serve(state) as url:
        assert cg(out, url, "--ids", "BTC=btc", today="2024-03-21") == 0
        assert "pending" in capsys.readouterr().out
        snap = file_stat_snapshot(out)
        assert cg(out, url, "--ids", "ETH=no-such-coin", today="2024-03-21") == 75
        err = capsys.readouterr().err
        assert "no-such-coin" in err and "404" in err and "Nothing was written" in err
        assert file_stat_snapshot(out) == snap
        assert cg(out, url, "--ids", "bitcoin", today="2024-03-21") == 2
        assert "ASSET=coin_id" in capsys.readouterr().err
