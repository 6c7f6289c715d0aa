"""``majors-alts mirror``: a lake written out in the Binance archive's documented formats
(spot klines headerless, open times in microseconds from 2025-01-01; funding and metrics with
their headers; ``sha256sum``-style ``.CHECKSUM`` files), CoinGecko answers and an ids file;
stable assets and rows without a price left out and said; a second mirror changes no byte."""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import date
from pathlib import Path

import pytest

from majors_alts_monitor import cli
from majors_alts_monitor.lake.importers.archive import parse_checksum
from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake
from majors_alts_monitor.tests.snapshots import file_stat_snapshot


def member(path: Path) -> str:
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert len(names) == 1 and names[0] == path.name.replace(".zip", ".csv")
        return zf.read(names[0]).decode()


def test_mirror_writes_the_archives_formats_and_a_rerun_changes_no_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    spec = SyntheticSpec(n_assets=8, start=date(2024, 9, 1), end=date(2025, 1, 20), seed=2)
    lake, _ = write_lake(generate(spec), tmp_path / "src")
    out = tmp_path / "mirror"
    assert cli.main(["mirror", str(lake), str(out), "--daily-from", "2025-01-01"]) == 0
    text = capsys.readouterr().out
    assert "funding through 2024-12" in text and "klines daily from 2025-01-01" in text
    d = out / "data"
    monthly = d / "spot/monthly/klines/BTCUSDT/1d/BTCUSDT-1d-2024-12.zip"
    daily = d / "spot/daily/klines/BTCUSDT/1d/BTCUSDT-1d-2025-01-02.zip"
    assert not (d / "spot/monthly/klines/BTCUSDT/1d/BTCUSDT-1d-2025-01.zip").exists()
    assert not (d / "spot/monthly/klines/USDTUSDT").exists()  # stables are not mirrored
    ms = member(monthly).splitlines()[0].split(",")
    us = member(daily).splitlines()[0].split(",")
    assert len(ms) == len(us) == 12 and ms[0].isdigit()  # no header
    assert int(ms[0]) == 1733011200000  # 2024-12-01 00:00 UTC in milliseconds
    assert int(us[0]) == 1735776000000000  # 2025-01-02 00:00 UTC in microseconds
    for z in (monthly, daily):
        sha = parse_checksum(z.with_name(z.name + ".CHECKSUM").read_text(), z.name)
        assert sha == hashlib.sha256(z.read_bytes()).hexdigest()
        assert z.with_name(z.name + ".CHECKSUM").read_text() == f"{sha}  {z.name}\n"
    fund = member(d / "futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2024-12.zip")
    assert fund.splitlines()[0] == "calc_time,funding_interval_hours,last_funding_rate"
    assert not (
        d / "futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2025-01.zip"
    ).exists()
    met = member(d / "futures/um/daily/metrics/BTCUSDT/BTCUSDT-metrics-2025-01-02.zip")
    assert met.splitlines()[0].startswith(
        "create_time,symbol,sum_open_interest,sum_open_interest_value"
    )
    assert met.splitlines()[1].startswith("2025-01-02 23:55:00,BTCUSDT,")
    chart = json.loads((out / "coingecko/api/v3/coins/btc/market_chart/range").read_text())
    assert chart["market_caps"][0][0] == 1725235200000  # 2024-09-02 00:00: day 2024-09-01
    assert "BTC,btc" in (out / "coingecko/ids.csv").read_text()
    snap = file_stat_snapshot(out)
    assert cli.main(["mirror", str(lake), str(out), "--daily-from", "2025-01-01"]) == 0
    assert "(0 written" in capsys.readouterr().out
    assert file_stat_snapshot(out) == snap
    assert cli.main(["mirror", str(lake), str(lake / "m")]) == 2  # never inside the lake


def test_mirror_takes_today_the_archive_as_it_stood_that_day(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Review defect 10 (issue 17 #4: ``--today`` on every command): ``mirror --today D`` is the
    archive as it stood on D; the lake's rows dated after D are the future, left out and said."""
    spec = SyntheticSpec(n_assets=8, start=date(2024, 9, 1), end=date(2025, 1, 20), seed=2)
    lake, _ = write_lake(generate(spec), tmp_path / "src")
    out = tmp_path / "mirror"
    argv = ["mirror", str(lake), str(out), "--daily-from", "2025-01-01", "--today", "2025-01-10"]
    assert cli.main(argv) == 0
    text = capsys.readouterr().out
    assert "left out: fact_price" in text and "dated after today 2025-01-10" in text
    daily = out / "data/spot/daily/klines/BTCUSDT/1d"
    days = sorted(p.name for p in daily.glob("*.zip"))
    assert days[-1] == "BTCUSDT-1d-2025-01-10.zip"  # nothing from the future
