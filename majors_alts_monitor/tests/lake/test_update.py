"""``majors-alts update binance-archive`` against a real HTTP server on 127.0.0.1 serving a
synthetic market in the archive's layout (``archive_server.py``): the top-up itself, pending
days, reruns that change no byte, a cache that resumes, revisions (a re-published file, a monthly
file replacing daily ones), the archive's listing (S3 pages and a static index), and every
failure case (network error, a file announced but missing, a hole, a checksum mismatch, a
truncated download, a damaged zip, a timeout), each leaving the lake as it was."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from majors_alts_monitor import cli
from majors_alts_monitor.lake.importers import archive as ar
from majors_alts_monitor.lake.importers.fetch import sha256
from majors_alts_monitor.tests.lake.archive_server import ServerState, serve
from majors_alts_monitor.tests.lake.update_fixtures import (
    copy_archive,
    import_history,
    market,
    source_tables,
    write_archive,
)
from majors_alts_monitor.tests.snapshots import file_stat_snapshot

TODAY = "2024-03-12"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, pl.DataFrame], Path, Path]:
    """The synthetic tables, their archive (read-only for the tests: copy it to change it) and
    a lake imported from its first two months (copy it too)."""
    lake = market()
    root = tmp_path_factory.mktemp("update")
    arch = write_archive(lake, root / "archive")
    base = root / "lake"
    import_history(arch, base, ("2023-11", "2023-12", "2024-01"))
    return source_tables(lake), arch, base


@pytest.fixture
def lake(world: tuple, tmp_path: Path) -> Path:
    import shutil

    out = tmp_path / "lake"
    shutil.copytree(world[2], out)
    return out


def update(out: Path, url: str, cache: Path, *extra: str, today: str = TODAY) -> int:
    return cli.main(
        ["update", "binance-archive", "--out", str(out), "--base-url", url, "--cache", str(cache),
         "--today", today, "--retries", "0", "--timeout", "5", *extra]
    )  # fmt: skip


def table(out: Path, name: str, col: str) -> pl.DataFrame:
    return (
        pl.read_parquet(out / f"{name}.parquet")
        .select("asset_id", "date", col)
        .sort("asset_id", "date")
    )


def expected(src: dict[str, pl.DataFrame], name: str, col: str, end: str) -> pl.DataFrame:
    return (
        src[name]
        .filter(pl.col("date") <= date.fromisoformat(end))
        .select("asset_id", "date", col)
        .sort("asset_id", "date")
    )


# ---- the top-up ------------------------------------------------------------------------------
def test_update_tops_up_every_dataset_and_a_rerun_changes_no_byte(
    world: tuple, lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    src, arch, _ = world
    state = ServerState(arch)
    cache = tmp_path / "cache"
    with serve(state) as url:
        assert update(lake, url, cache) == 0
        text = capsys.readouterr().out
        # prices, volumes and open interest through yesterday; funding through the last month
        # the archive has published (March's file comes out in April: pending, not an error)
        assert_frame_equal(
            table(lake, "fact_price", "close"), expected(src, "fact_price", "close", "2024-03-11")
        )
        assert_frame_equal(
            table(lake, "fact_volume", "volume"),
            expected(src, "fact_volume", "volume", "2024-03-11"),
        )
        assert_frame_equal(
            table(lake, "fact_open_interest", "open_interest_usd"),
            expected(src, "fact_open_interest", "open_interest_usd", "2024-03-11"),
        )
        assert_frame_equal(
            table(lake, "fact_funding", "funding_rate"),
            expected(src, "fact_funding", "funding_rate", "2024-02-29"),
        )
        assert "pending (USD-M funding" in text and "2024-03" in text
        assert "spot klines 1d: no file after 2024-01-31 for 2 symbols (ALT002USDT" in text
        # the downloads went to the cache, outside the lake, and once in the lake their copies
        # were removed (a failed update keeps them for the next run: see the failure tests)
        assert (cache / "binance-archive/data/spot").is_dir()
        assert not list((cache / "binance-archive").rglob("*.zip"))
        assert not any(p.suffix == ".zip" for p in lake.rglob("*"))
        # a rerun the same morning changes no byte and downloads nothing
        snap = file_stat_snapshot(lake)
        state.requests.clear()
        assert update(lake, url, cache) == 0
        assert file_stat_snapshot(lake) == snap
        assert state.fetched() == []
        # the next morning fetches the new day only (and probes the pending month again)
        state.requests.clear()
        assert update(lake, url, cache, today="2024-03-13") == 0
        got = sorted(p.rsplit("/", 1)[-1] for p in state.fetched())
        assert got and all("2024-03-12" in n for n in got), got


def test_yesterday_not_published_yet_is_pending_and_fetched_the_next_time(
    world: tuple, lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    src, arch0, _ = world
    arch = copy_archive(arch0, tmp_path / "archive")
    day = arch / "data/spot/daily/klines/BTCUSDT/1d/BTCUSDT-1d-2024-03-11.zip"
    held = {p: p.read_bytes() for p in (day, day.with_name(day.name + ".CHECKSUM"))}
    for p in held:
        p.unlink()
    with serve(ServerState(arch)) as url:
        assert update(lake, url, tmp_path / "cache", *ONE) == 0
        text = capsys.readouterr().out
        assert "pending (spot klines 1d" in text and "BTCUSDT 2024-03-11" in text
        btc = table(lake, "fact_price", "close").filter(pl.col("asset_id") == "BTC")
        assert btc["date"].max() == date(2024, 3, 10)
        for p, data in held.items():
            p.write_bytes(data)
        assert update(lake, url, tmp_path / "cache", *ONE) == 0
    btc = pl.col("asset_id") == "BTC"
    assert_frame_equal(
        table(lake, "fact_price", "close").filter(btc),
        expected(src, "fact_price", "close", "2024-03-11").filter(btc),
    )


def test_update_refuses_a_folder_the_importers_did_not_write(
    world: tuple, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _, arch, base = world
    plain = tmp_path / "research"
    plain.mkdir()
    for f in base.glob("*.parquet"):
        (plain / f.name).write_bytes(f.read_bytes())
    snap = file_stat_snapshot(plain)
    with serve(ServerState(arch)) as url:
        assert update(plain, url, tmp_path / "cache") == 2
    err = capsys.readouterr().err
    assert "not written by majors-alts import" in err and "importer_manifest.json" in err
    assert file_stat_snapshot(plain) == snap
    # and a cache inside the lake is refused
    assert update(base, "http://127.0.0.1:9/", base / "cache") == 2
    assert "inside the lake" in capsys.readouterr().err


# ---- failures --------------------------------------------------------------------------------
BTC_FEB = "data/spot/monthly/klines/BTCUSDT/1d/BTCUSDT-1d-2024-02.zip"
ONE = ("--symbols", "BTCUSDT", "--datasets", "klines")


def _damage(arch: Path, how: str) -> None:
    if how == "mismatch":
        (arch / (BTC_FEB + ".CHECKSUM")).write_text(
            ar.checksum_text("0" * 64, "BTCUSDT-1d-2024-02.zip")
        )
    elif how == "damaged_zip":
        data = (arch / BTC_FEB).read_bytes()[:200]
        (arch / BTC_FEB).write_bytes(data)
        (arch / (BTC_FEB + ".CHECKSUM")).write_text(
            ar.checksum_text(sha256(data), "BTCUSDT-1d-2024-02.zip")
        )
    elif how == "hole":
        for suffix in ("", ".CHECKSUM"):
            (arch / (BTC_FEB + suffix)).unlink()


@pytest.mark.parametrize(
    ("how", "says"),
    [
        ("network", "network error"),
        ("404", "announces it (its .CHECKSUM is there) but the file is missing"),
        ("hole", "is not in the archive"),
        ("mismatch", "checksum mismatch"),
        ("cut", "network error"),  # the connection closes before Content-Length bytes
        ("damaged_zip", "not a readable zip"),
        ("timeout", "timeout"),
        ("500", "HTTP 500"),
    ],
)
def test_a_failure_leaves_the_lake_as_it_was_names_the_file_and_a_rerun_resumes(
    world: tuple, lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture, how: str, says: str
) -> None:
    src, arch0, _ = world
    mutates = how in ("mismatch", "damaged_zip", "hole")
    arch = copy_archive(arch0, tmp_path / "archive") if mutates else arch0
    _damage(arch, how)
    state = ServerState(arch, delay_s=5.0)
    if how in ("404", "cut", "timeout", "500"):
        state.faults[BTC_FEB] = how
    snap = file_stat_snapshot(lake)
    cache = tmp_path / "cache"
    with serve(state) as url:
        base = "http://127.0.0.1:9/" if how == "network" else url  # nothing listens on port 9
        extra = ("--symbols", "BTCUSDT", "--datasets", "klines")
        extra += ("--timeout", "2") if how == "timeout" else ()
        code = cli.main(
            ["update", "binance-archive", "--out", str(lake), "--base-url", base, "--cache",
             str(cache), "--today", TODAY, "--retries", "0", *extra]
        )  # fmt: skip
        err = capsys.readouterr().err
        assert code == 75, err
        assert says in err and "Traceback" not in err
        assert "Nothing was written to" in err
        if how != "network":
            assert "BTCUSDT-1d-2024-02" in err  # the file is named
        assert file_stat_snapshot(lake) == snap, "a failed update must leave the lake as it was"
        if how == "hole":  # accepted when asked: the lake then misses February for BTC
            assert update(lake, url, cache, "--allow-gaps", *ONE) == 0
            assert "missing between files the archive has" in capsys.readouterr().out
            return
        # the other files were verified and cached: a rerun once the fault is gone fetches only
        # what is still missing
        state.faults.clear()
        if how in ("mismatch", "damaged_zip"):
            copy = arch0 / BTC_FEB
            (arch / BTC_FEB).write_bytes(copy.read_bytes())
            (arch / (BTC_FEB + ".CHECKSUM")).write_bytes(
                (arch0 / (BTC_FEB + ".CHECKSUM")).read_bytes()
            )
        cached_before = (
            {p.name for p in (cache / "binance-archive").rglob("*.zip")}
            if cache.is_dir()
            else set()
        )
        state.requests.clear()
        assert update(lake, url, cache, *ONE) == 0, capsys.readouterr().err
        again = {p.rsplit("/", 1)[-1] for p in state.fetched()}
        assert not (again & cached_before), "a verified cached file was downloaded again"
    btc = pl.col("asset_id") == "BTC"
    assert_frame_equal(
        table(lake, "fact_price", "close").filter(btc),
        expected(src, "fact_price", "close", "2024-03-11").filter(btc),
    )


# ---- revisions -------------------------------------------------------------------------------
def _republish(arch: Path, rel: str, change: float) -> None:
    """Re-publish a klines file with its closes scaled by ``change`` (a correction)."""
    path = arch / rel
    with zipfile.ZipFile(path) as zf:
        member = zf.namelist()[0]
        lines = zf.read(member).decode().splitlines()
    out = []
    for ln in lines:
        f = ln.split(",")
        f[4] = repr(float(f[4]) * change)
        out.append(",".join(f))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(member, "\n".join(out) + "\n")
    path.write_bytes(buf.getvalue())
    path.with_name(path.name + ".CHECKSUM").write_text(
        ar.checksum_text(sha256(buf.getvalue()), path.name)
    )


def test_a_republished_file_replaces_what_it_covers_as_a_revision(
    world: tuple, lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    src, arch0, _ = world
    arch = copy_archive(arch0, tmp_path / "archive")
    cache = tmp_path / "cache"
    with serve(ServerState(arch)) as url:
        eth = ("--symbols", "ETHUSDT", "--datasets", "klines")
        assert update(lake, url, cache, *eth) == 0
        capsys.readouterr()
        rel = "data/spot/daily/klines/ETHUSDT/1d/ETHUSDT-1d-2024-03-10.zip"
        _republish(arch, rel, 1.01)
        assert update(lake, url, cache, *eth) == 0  # the same morning: a correction, not a conflict
        text = capsys.readouterr().out
    assert "revision: ETHUSDT-1d-2024-03-10 (re-published)" in text and "1 rows revised" in text
    px = table(lake, "fact_price", "close").filter(pl.col("asset_id") == "ETH")
    want = expected(src, "fact_price", "close", "2024-03-11").filter(pl.col("asset_id") == "ETH")
    want = want.with_columns(
        pl.when((pl.col("asset_id") == "ETH") & (pl.col("date") == date(2024, 3, 10)))
        .then(pl.col("close") * 1.01)
        .otherwise(pl.col("close"))
        .alias("close")
    )
    assert_frame_equal(px, want)
    rec = json.loads((lake / "importer_manifest.json").read_text())
    files = rec["sources"]["binance_spot_klines_1d"]["ETHUSDT"]["files"]
    assert files["ETHUSDT-1d-2024-03-10"]["sha256"] == sha256((arch / rel).read_bytes())


def test_a_month_uses_daily_files_until_its_monthly_file_replaces_them(
    world: tuple, lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    src, arch0, _ = world
    arch = copy_archive(arch0, tmp_path / "archive")
    cache = tmp_path / "cache"
    with serve(ServerState(arch)) as url:
        assert update(lake, url, cache, *ONE) == 0  # March from daily files
        capsys.readouterr()
        # April 3rd: March's monthly file is out, with one day corrected
        march = src["fact_price"].filter(
            pl.col("asset_id") == "BTC", pl.col("date") >= date(2024, 3, 1)
        )
        rows = march.with_columns(
            pl.when(pl.col("date") == date(2024, 3, 5))
            .then(pl.col("close") * 0.99)
            .otherwise(pl.col("close"))
            .alias("close")
        )
        from majors_alts_monitor.lake.importers.mirror import kline_line

        vol = dict(
            src["fact_volume"]
            .filter(pl.col("asset_id") == "BTC")
            .select("date", "volume")
            .iter_rows()
        )
        text = "".join(
            kline_line(d, c, c, c, c, vol[d]) + "\n"
            for d, c in rows.select("date", "close").iter_rows()
        )
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("BTCUSDT-1d-2024-03.csv", text)
        rel = ar.SPOT_KLINES.path("BTCUSDT", "2024-03")
        (arch / rel).parent.mkdir(parents=True, exist_ok=True)
        (arch / rel).write_bytes(buf.getvalue())
        (arch / (rel + ".CHECKSUM")).write_text(
            ar.checksum_text(sha256(buf.getvalue()), "BTCUSDT-1d-2024-03.zip")
        )
        assert update(lake, url, cache, *ONE, today="2024-04-03") == 0
        out = capsys.readouterr().out
    assert "revision: BTCUSDT-1d-2024-03 (monthly file replaces daily files)" in out
    btc = table(lake, "fact_price", "close").filter(pl.col("asset_id") == "BTC")
    assert (
        btc.filter(pl.col("date") == date(2024, 3, 5))["close"][0]
        == rows.filter(pl.col("date") == date(2024, 3, 5))["close"][0]
    )
    assert btc["date"].max() == date(2024, 3, 20)  # the monthly file's days after the 11th too
    assert "pending (spot klines 1d" in out  # April's days are not in this archive: pending


# ---- listings --------------------------------------------------------------------------------
@pytest.mark.parametrize("s3", [True, False])
def test_symbols_all_follows_the_archive_listing_and_maps_futures_names(
    world: tuple, tmp_path: Path, capsys: pytest.CaptureFixture, s3: bool
) -> None:
    src, arch0, _ = world
    arch = copy_archive(arch0, tmp_path / "archive")
    # ALT004's perpetual is published as 1000ALT004USDT (a contract on 1,000 coins)
    for sub in ("data/futures/um/monthly/fundingRate", "data/futures/um/daily/metrics"):
        old = arch / sub / "ALT004USDT"
        new = arch / sub / "1000ALT004USDT"
        new.mkdir()
        for f in sorted(old.iterdir()):
            name = f.name.replace("ALT004USDT", "1000ALT004USDT")
            if f.suffix == ".zip":
                with zipfile.ZipFile(f) as zf:
                    text = (
                        zf.read(zf.namelist()[0]).decode().replace("ALT004USDT", "1000ALT004USDT")
                    )
                buf = io.BytesIO()
                with zipfile.ZipFile(buf, "w") as zf:
                    zf.writestr(name[:-4] + ".csv", text)
                (new / name).write_bytes(buf.getvalue())
                (new / (name + ".CHECKSUM")).write_text(
                    ar.checksum_text(sha256(buf.getvalue()), name)
                )
        for f in list(old.iterdir()):
            f.unlink()
        old.rmdir()
    # a lake of BTC and ETH only: --symbols all brings every other listing from the lake's start
    out = tmp_path / "lake"
    kl = sorted((arch / "data/spot/monthly/klines").glob("*/1d/[BE]T[CH]USDT-1d-2023-1[12].zip"))
    assert cli.main(["import", "binance-klines", *map(str, kl), "--out", str(out)]) == 0
    state = ServerState(arch, s3=s3, page_size=3)  # pages of three: the listing is paged
    sets = () if s3 else ("--datasets", "klines,funding")  # a static index: fewer files
    with serve(state) as url:
        assert update(out, url, tmp_path / "cache", "--symbols", "all", *sets) == 0
    text = capsys.readouterr().out
    assert_frame_equal(
        table(out, "fact_price", "close"), expected(src, "fact_price", "close", "2024-03-11")
    )
    fund = pl.read_parquet(out / "fact_funding.parquet")
    alt4 = fund.filter(pl.col("instrument_id") == "BINANCE_UM:1000ALT004USDT")
    assert alt4.height and set(alt4["asset_id"]) == {"ALT004"}  # filed under the spot asset
    assert "pending" in text
    if s3:
        assert any("list-type=2" in r and "continuation-token" in r for r in state.requests)
