"""Rows dated after today are the future seen from today (review defect 4): replaying a morning
on real_binance (``--today 2026-03-04``; its funding runs to 2026-05-20) failed with exit 2
because 2,633 funding rows after the pinned today counted as broken. They are now cut (point in
time), counted under their own reason with a note, and kept out of the rejected-rows error
share; a row no clock allows (2099) is still a broken row, refused and named."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from majors_alts_monitor import cli, clock
from majors_alts_monitor.errors import LakeError
from majors_alts_monitor.lake.data_io import LakeReader
from majors_alts_monitor.lake.tables import FUTURE_REASON, _Report

TODAY = "2026-03-04"


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_replaying_a_morning_on_real_binance_cuts_the_later_funding(
    real_binance_lake: Path, tmp_path: Path
) -> None:
    code, out, err = _cli("check-lake", str(real_binance_lake), "--today", TODAY)
    assert code == 0, out + err
    assert f"cut: 2,633 rows, {FUTURE_REASON}" in out and "(through 2026-05-20)" in out
    code, out, err = _cli(
        "signals",
        "--lake",
        str(real_binance_lake),
        "--output-root",
        str(tmp_path),
        "--today",
        TODAY,
        "--asof",
        "2026-02-20",
        "--quiet",
    )
    assert code == 0, err
    sig = json.loads((tmp_path / "reports/majors_alts/signals/2026-02-20.json").read_text())
    assert sig["decision_date"] == "2026-02-20"


def _lake(tmp_path: Path, dates: list[date]) -> Path:
    lake = tmp_path / "lake"
    lake.mkdir()
    days = pl.date_range(date(2026, 1, 1), date(2026, 3, 4), eager=True).to_list()
    rows = [(a, d) for a in ("BTC", "ETH") for d in days]
    pl.DataFrame(rows, schema=["asset_id", "date"], orient="row").with_columns(
        close=pl.lit(100.0)
    ).write_parquet(lake / "fact_price.parquet")
    fund = [(a, f"{a}USDT", d) for a in ("BTC", "ETH") for d in days + dates]
    pl.DataFrame(fund, schema=["asset_id", "instrument_id", "date"], orient="row").with_columns(
        funding_rate=pl.lit(1e-4)
    ).write_parquet(lake / "fact_funding.parquet")
    return lake


def _read_funding(lake: Path, on_bad_values: str = "drop") -> _Report:
    reader = LakeReader(lake, on_bad_values=on_bad_values)  # type: ignore[arg-type]
    rep = _Report()
    assert reader.read_table("fact_funding", None, None, {"BTC", "ETH"}, rep) is not None
    reader.judge("fact_funding", rep)
    return rep


def test_the_future_is_cut_not_broken_even_when_it_is_most_of_the_table(tmp_path: Path) -> None:
    later = pl.date_range(date(2026, 3, 5), date(2026, 5, 20), eager=True).to_list()
    lake = _lake(tmp_path, later)  # 77 of 140 days after today: 55% > the 5% error share
    with clock.pinned(date.fromisoformat(TODAY)):
        for policy in ("drop", "error"):  # the future is not a bad value under either policy
            rep = _read_funding(lake, policy)
            got = rep.rejected["fact_funding"]
            assert got == {
                FUTURE_REASON: {"rows": 2 * len(later), "first": got[FUTURE_REASON]["first"]}
            }
            assert got[FUTURE_REASON]["first"]["date"] == "2026-03-05"
            assert not rep.warnings and any("the future seen from today" in n for n in rep.notes)


def test_a_row_no_clock_allows_is_still_broken_and_named(tmp_path: Path) -> None:
    lake = _lake(tmp_path, [date(2099, 1, 1)] * 40)  # 2099 for BTC and ETH: 80 of 206 rows
    with clock.pinned(date.fromisoformat(TODAY)):
        with pytest.raises(LakeError, match="are broken") as err:
            _read_funding(lake)
        assert "2099-01-01" in str(err.value)
        with pytest.raises(LakeError, match="after today 2026-03-04") as err:
            _read_funding(lake, "error")
        assert "2099-01-01" in str(err.value)
