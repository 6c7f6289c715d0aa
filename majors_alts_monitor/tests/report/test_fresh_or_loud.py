"""Fresh or loud (issue 21, item 1): the lake's last date against today (``--today``).

The issue's case: on 2026-12-07 ``signals`` on the real Binance lake (last date 2026-03-03)
printed a fresh-looking signal with ``"stale": false``; now it exits 2 naming both dates and
what to do, and with ``--allow-stale`` warns and writes ``"stale": true``. ``run`` shows the
banner on the console and the dashboard, and kpis.json and the manifest say it; a research run
(``--end`` in the past) and a synthetic lake (it says so itself) are not stale; an ``--asof``
after today is an error. The rules (``report.freshness``) unit by unit and as a property.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from majors_alts_monitor import cli
from majors_alts_monitor.errors import MonitorError
from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake
from majors_alts_monitor.lake.synthetic.write import is_synthetic_lake
from majors_alts_monitor.report.freshness import Freshness, assess, refuse_future, stamp

TODAY = "2026-12-07"
LAKE_END = "2026-03-03"  # real_binance's last date


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


def _signals(lake: Path, root: Path, *extra: str) -> tuple[int, str, str]:
    return _cli("signals", "--lake", str(lake), "--output-root", str(root), "--quiet", *extra)


def _today_file(root: Path) -> Path:
    return root / "reports" / "majors_alts" / "signals_today.json"


# ---- signals ---------------------------------------------------------------------------------
def test_stale_lake_is_refused_naming_both_dates(real_binance_lake: Path, tmp_path: Path):
    code, out, err = _signals(real_binance_lake, tmp_path, "--today", TODAY)
    assert code == 2 and out == ""
    assert LAKE_END in err and TODAY in err and "279 days" in err
    assert "data.max_age_days = 2" in err
    assert "majors-alts update binance-archive" in err and "--allow-stale" in err
    assert not _today_file(tmp_path).exists()  # nothing written
    assert not (tmp_path / "reports" / "majors_alts" / "signals").exists()
    # review defect 12: a refused call leaves no empty output root behind
    code, _, _ = _signals(real_binance_lake, tmp_path / "fresh_root", "--today", TODAY)
    assert code == 2 and not (tmp_path / "fresh_root").exists()


def test_allow_stale_warns_and_marks_the_file(real_binance_lake: Path, tmp_path: Path):
    code, out, err = _signals(real_binance_lake, tmp_path, "--today", TODAY, "--allow-stale")
    assert code == 0
    sig = json.loads(_today_file(tmp_path).read_text())
    assert sig["stale"] is True and sig["today"] == TODAY and sig["data_age_days"] == 279
    assert sig["decision_date"] == LAKE_END
    fr = sig["freshness"]
    assert fr == {
        "data_end": LAKE_END,
        "today": TODAY,
        "age_days": 279,
        "max_age_days": 2,
        "checked": True,
        "stale": True,
        "note": sig["warnings"][0],
        "trade_day": "2026-03-04",
        "late": True,
    }
    assert sig["trade_day"] == "2026-03-04" and sig["late"] is True
    assert "tomorrow" not in out  # the call is for a day long over
    assert sig["warnings"][0].startswith(f"STALE: the lake's last date is {LAKE_END}, 279 days")
    lines = out.splitlines()
    assert lines[2].startswith(f"  STALE DATA: the lake's last date is {LAKE_END}")  # first
    assert "STALE: the lake's last date" in err  # and a warning on the log


@pytest.fixture(scope="module")
def cut_lake(real_binance_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """real_binance as it stood on the morning of 2026-02-21: every table cut at 2026-02-20
    (its funding runs past its prices, which a --today near the end would refuse)."""
    from majors_alts_monitor.tests.test_cli_e2e import _cut_lake

    cut = tmp_path_factory.mktemp("fresh_cut") / "lake"
    _cut_lake(real_binance_lake, cut, date(2026, 2, 20))
    return cut


@pytest.mark.parametrize("today", ["2026-02-21", "2026-02-22"])
def test_a_lake_within_max_age_is_fresh(cut_lake: Path, tmp_path: Path, today: str) -> None:
    """On day T the freshest lake ends T-1 (age 1); a morning call before the archive publishes
    T-1 sees T-2 (age 2): both fresh. Age 3 is refused."""
    code, out, _ = _signals(cut_lake, tmp_path, "--today", today)
    assert code == 0 and "STALE" not in out
    sig = json.loads(_today_file(tmp_path).read_text())
    assert sig["stale"] is False and sig["freshness"]["checked"] is True
    assert sig["data_age_days"] == (date.fromisoformat(today) - date(2026, 2, 20)).days
    code, _, err = _signals(cut_lake, tmp_path, "--today", "2026-02-23")
    assert code == 2 and "3 days before today 2026-02-23" in err


def test_a_call_for_a_day_already_over_is_late_and_loud(cut_lake: Path, tmp_path: Path) -> None:
    """Review defect 1: a lake one day behind (age 2, within data.max_age_days) gave a silent
    "flat tomorrow" for a trade day already over. The call is still issued (the freshest the
    archive has), but it says LATE first, names its trade day, never says "tomorrow", and the
    alert says it; age 1 is the call for today."""
    from majors_alts_monitor.morning.notify import message

    code, out, err = _signals(cut_lake, tmp_path, "--today", "2026-02-22")
    assert code == 0
    sig = json.loads(_today_file(tmp_path).read_text())
    assert sig["stale"] is False and sig["late"] is True and sig["trade_day"] == "2026-02-21"
    assert sig["freshness"]["late"] is True and sig["freshness"]["trade_day"] == "2026-02-21"
    first = sig["warnings"][0]
    assert first.startswith("LATE: the call is for 2026-02-21, a day already over by today")
    assert "within data.max_age_days = 2" in first and "data through 2026-02-21" in first
    lines = out.splitlines()
    assert lines[2].startswith("  LATE CALL: the call is for 2026-02-21")  # first, before figures
    assert "tomorrow" not in out and "on 2026-02-21, a day already over" in out
    assert "LATE: the call is for 2026-02-21" in err  # and on the log
    alert = message("signals", sig=sig, ledger=None, error=None, exit_code=0)
    assert alert["event"] == "late" and alert["warnings"][0] == first
    assert "LATE: for 2026-02-21, a day already over" in alert["text"]

    code, out, _ = _signals(cut_lake, tmp_path / "t", "--today", "2026-02-21")  # age 1
    sig = json.loads(_today_file(tmp_path / "t").read_text())
    assert code == 0 and sig["late"] is False and sig["trade_day"] == "2026-02-21"
    assert not any(w.startswith("LATE") for w in sig["warnings"]) and "LATE" not in out
    assert "today (2026-02-21)" in out and "tomorrow" not in out
    alert = message("signals", sig=sig, ledger=None, error=None, exit_code=0)
    assert "late" not in alert["events"]


def test_a_backfill_is_not_stale_and_a_future_asof_is_an_error(
    real_binance_lake: Path, tmp_path: Path
) -> None:
    code, _, _ = _signals(real_binance_lake, tmp_path, "--today", TODAY, "--asof", "2026-02-20")
    assert code == 0
    sig = json.loads((tmp_path / "reports/majors_alts/signals/2026-02-20.json").read_text())
    assert sig["stale"] is False and sig["freshness"]["checked"] is False
    assert "--asof is before 2026-12-05" in sig["freshness"]["note"]
    assert sig["data_age_days"] == (date(2026, 12, 7) - date(2026, 2, 20)).days
    code, out, err = _signals(real_binance_lake, tmp_path, "--today", TODAY, "--asof", "2026-12-08")
    assert code == 2 and out == ""
    assert "--asof 2026-12-08 is after today 2026-12-07" in err and "stale" not in err


# ---- run and the dashboard -------------------------------------------------------------------
def test_run_shows_the_stale_banner_and_says_it_in_kpis_and_manifest(
    real_binance_lake: Path, tmp_path: Path
) -> None:
    args = ["--lake", str(real_binance_lake), "--output-root", str(tmp_path), "--today", TODAY]
    code, out, _ = _cli("run", *args, "--quiet")
    assert code == 0
    assert out.splitlines()[2].startswith(f"  STALE DATA: the lake's last date is {LAKE_END}")
    rep = tmp_path / "reports" / "majors_alts"
    kpis = json.loads((rep / "kpis.json").read_text())
    man = json.loads((tmp_path / "artifacts/majors_alts/run_manifest.json").read_text())
    sig = json.loads((rep / "signals_today.json").read_text())
    assert kpis["freshness"] == man["freshness"] == sig["freshness"]
    assert kpis["freshness"]["stale"] is True and kpis["freshness"]["age_days"] == 279
    assert sig["stale"] is True and man["warnings"][0] == kpis["freshness"]["note"]
    html = (rep / "dashboard.html").read_text()
    banner = html.index('id="stale-banner"')
    assert banner < html.index("<header>")  # the dashboard's top
    assert html.count("279 days before today 2026-12-07") == 1  # the banner, not listed twice

    # a research run over history (--end in the past): no banner
    code, out, _ = _cli("run", *args, "--end", "2026-02-27", "--quiet")
    assert code == 0 and "STALE" not in out
    kpis = json.loads((rep / "kpis.json").read_text())
    assert kpis["freshness"]["checked"] is False and kpis["freshness"]["stale"] is False
    assert "--end is before 2026-12-05" in kpis["freshness"]["note"]
    assert 'id="stale-banner"' not in (rep / "dashboard.html").read_text()
    assert json.loads((rep / "signals_today.json").read_text())["stale"] is True  # kept: newer


def test_a_run_ending_after_today_is_refused_like_a_future_asof(tmp_path: Path) -> None:
    """Review defect 9: ``run --end`` after today was accepted (exit 0); now exit 2 before any
    work, as a future ``--asof`` is."""
    code, out, err = _cli(
        "run", "--demo", "--output-root", str(tmp_path / "o"), "--end", "2026-12-09",
        "--today", TODAY, "--quiet",
    )  # fmt: skip
    assert code == 2 and out == ""
    assert "--end 2026-12-09 is after today 2026-12-07" in err and "a run cannot end" in err
    assert not (tmp_path / "o").exists()
    from majors_alts_monitor import api, clock

    with clock.pinned(date(2026, 12, 7)), pytest.raises(MonitorError, match="--end 2026-12-08"):
        api.run(lake=tmp_path / "nowhere", end="2026-12-08")


# ---- a synthetic lake says so itself ---------------------------------------------------------
@pytest.fixture(scope="module")
def small_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = SyntheticSpec(
        n_assets=20, start=date(2020, 1, 1), end=date(2023, 3, 31), world="planted", seed=5
    )
    lake, _ = write_lake(generate(spec), tmp_path_factory.mktemp("fresh_synth"))
    return lake


def test_a_synthetic_lake_is_never_stale_a_copy_without_its_truth_is(
    small_lake: Path, tmp_path: Path
) -> None:
    assert is_synthetic_lake(small_lake)
    code, out, _ = _signals(small_lake, tmp_path / "o", "--today", TODAY)
    assert code == 0 and "STALE" not in out
    sig = json.loads(_today_file(tmp_path / "o").read_text())
    assert sig["stale"] is False and sig["freshness"]["checked"] is False
    assert "synthetic lake" in sig["freshness"]["note"]
    # the same tables under the same folder name, without the generator's truth beside them:
    # nothing says synthetic, so the clock applies
    copy = tmp_path / "elsewhere" / "lake"
    shutil.copytree(small_lake, copy)
    assert not is_synthetic_lake(copy)
    code, _, err = _signals(copy, tmp_path / "o2", "--today", TODAY)
    assert code == 2 and "2023-03-31" in err and TODAY in err


# ---- the rules -------------------------------------------------------------------------------
def test_rules_unit_by_unit(tmp_path: Path) -> None:
    d, t = date(2026, 3, 3), date(2026, 3, 6)
    f = assess(d, t, 2, lake_dir=tmp_path, requested=None, option="--asof")
    assert f.checked and f.age_days == 3 and f.stale
    assert isinstance(f.error(), MonitorError) and f.error().exit_code == 2
    assert not assess(d, t, 3, lake_dir=tmp_path, requested=None, option="--asof").stale
    past = assess(d, t, 2, lake_dir=tmp_path, requested=date(2026, 3, 3), option="--end")
    assert not past.checked and not past.stale and "--end is before 2026-03-04" in past.note()
    near = assess(d, t, 2, lake_dir=tmp_path, requested=date(2026, 3, 4), option="--asof")
    assert near.checked and near.stale  # --asof today - max_age: today's call
    refuse_future(date(2026, 3, 6), t)
    with pytest.raises(MonitorError, match="after today"):
        refuse_future(date(2026, 3, 7), t)


def test_stamp_keeps_stale_of_the_asof_rule_and_puts_the_keys_after_it() -> None:
    sig = {"asof": "2026-03-05", "stale": True, "decision_date": "2026-03-03", "warnings": ["w"]}
    fresh = Freshness(date(2026, 3, 3), date(2026, 3, 5), 2, "a synthetic lake")
    out = stamp(sig, fresh)
    assert list(out) == [
        "asof",
        "stale",
        "today",
        "data_age_days",
        "trade_day",
        "late",
        "freshness",
        "decision_date",
        "warnings",
    ]
    assert out["stale"] is True and out["warnings"] == ["w"] and out["data_age_days"] == 2
    assert stamp(out, fresh) == out  # idempotent


@given(
    age=st.integers(-5, 400),
    max_age=st.integers(1, 30),
    back=st.one_of(st.none(), st.integers(0, 400)),
)
def test_stale_exactly_when_checked_and_older_than_allowed(
    age: int, max_age: int, back: int | None
) -> None:
    today = date(2026, 12, 7)
    req = None if back is None else today - timedelta(days=back)
    f = assess(
        today - timedelta(days=age), today, max_age, lake_dir=None, requested=req, option="--asof"
    )
    assert f.checked == (back is None or back <= max_age)
    assert f.stale == (f.checked and age > max_age)
    assert f.block()["stale"] == f.stale and f.block()["age_days"] == age
    assert (f.block()["note"] is None) == (f.checked and not f.stale)
