"""One file, one owner (issue 21, item 2).

``signals --asof D`` records its call at ``reports/majors_alts/signals/D.json`` (D the decision
day) and updates ``signals_today.json`` only for the newest decision day; a run keeps a newer
call there; ``verify`` stays clean after any sequence of runs and calls, and the dashboard's
badge names its true source (the run's own signal).

The issue's case on the real Binance lake with the real commands; sequences (hypothesis) with
the real publication (``write_run``, ``publish_signal``) and small stand-in results.
"""

from __future__ import annotations

import contextlib
import html as html_mod
import io
import json
import re
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from majors_alts_monitor import cli
from majors_alts_monitor.backtest.stages import RunResult
from majors_alts_monitor.config import load_config
from majors_alts_monitor.publish.layout import writing_outputs
from majors_alts_monitor.publish.verify import verify
from majors_alts_monitor.report import write as write_mod
from majors_alts_monitor.report.signal_files import publish_signal
from majors_alts_monitor.report.write import write_run

TODAY = "2026-12-07"


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


def _badge(html: str) -> tuple[str, str]:
    m = re.search(r'data-regime="([A-Z_]+)"', html)
    src = re.search(r'<span class="muted">\(from ([^)]*)\)</span></p>', html)
    assert m and src
    return m.group(1), html_mod.unescape(src.group(1))


def test_run_then_an_earlier_asof_keeps_the_runs_file(real_binance_lake: Path, tmp_path: Path):
    """The issue's case: run, then ``signals --asof 2026-02-20`` into the same output root. The
    run's signals_today.json stays (bytes), the dashboard's badge stays the run's and says so,
    verify is clean, and the console says where the new record went."""
    lake = ["--lake", str(real_binance_lake), "--output-root", str(tmp_path), "--today", TODAY]
    code, _, _ = _cli("run", *lake, "--quiet")
    assert code == 0
    rep = tmp_path / "reports" / "majors_alts"
    run_file = (rep / "signals_today.json").read_bytes()
    run_sig = json.loads(run_file)
    dash = (rep / "dashboard.html").read_text()
    regime, source = _badge(dash)
    assert regime == run_sig["regime"] and source == "this run's own signal"

    code, out, _ = _cli("signals", *lake, "--asof", "2026-02-20", "--quiet")
    assert code == 0
    record = rep / "signals" / "2026-02-20.json"
    assert f"recorded {record.absolute()}" in out
    assert f"kept     {(rep / 'signals_today.json').absolute()}: it holds a newer call" in out
    assert "the day after 2026-03-03, the run's own signal" in out
    assert (rep / "signals_today.json").read_bytes() == run_file
    assert json.loads(record.read_text())["decision_date"] == "2026-02-20"
    assert (rep / "dashboard.html").read_text() == dash  # badge and source unchanged
    rep_v = verify(tmp_path)
    assert not rep_v.problems, rep_v.problems

    # the same decision day as the run's, today's call (stale lake, allowed): it supersedes
    # the run's file and says so; the run's dashboard still shows the run's own signal
    code, out, _ = _cli("signals", *lake, "--allow-stale", "--quiet")
    assert code == 0
    assert "supersedes the run's signals_today.json (for the day after 2026-03-03)" in out
    now = json.loads((rep / "signals_today.json").read_text())
    assert now["decision_date"] == "2026-03-03" and now["stale"] is True
    assert (rep / "signals" / "2026-03-03.json").read_bytes() == (
        rep / "signals_today.json"
    ).read_bytes()
    assert (rep / "dashboard.html").read_text() == dash
    assert (rep / "signals" / "2026-02-20.json").is_file()  # records survive
    assert not verify(tmp_path).problems

    # a research run over history after that: the newer call stays in signals_today.json
    code, _, err = _cli("run", *lake, "--end", "2026-02-25")
    assert code == 0
    assert "signals_today.json kept: it holds a newer call (for the day after 2026-03-03" in err
    assert json.loads((rep / "signals_today.json").read_text())["decision_date"] == "2026-03-03"
    manifest = json.loads((tmp_path / "artifacts/majors_alts/run_manifest.json").read_text())
    assert "reports/majors_alts/signals_today.json" not in manifest["files"]
    assert _badge((rep / "dashboard.html").read_text())[1] == "this run's own signal"
    assert sorted(p.name for p in (rep / "signals").iterdir()) == [
        "2026-02-20.json",
        "2026-03-03.json",
    ]
    assert not verify(tmp_path).problems


# ---- sequences of runs and calls, on the real publication -----------------------------------
D0 = date(2024, 1, 1)


def _sig(day: date, who: str, k: int) -> dict:
    return {
        "asof": day.isoformat(),
        "generated_at": f"{who}-{k}",  # tells the calls apart
        "stale": False,
        "decision_date": day.isoformat(),
        "regime": "BALANCED",
        "warnings": [],
    }


def _result(day: date, k: int) -> RunResult:
    dates = pl.DataFrame({"date": [day - timedelta(days=1), day]})
    return RunResult(
        timeline=dates,
        features=dates,
        pnl=dates,
        equity=dates,
        kpis={"k": k},
        regime_metrics=dates,
        betas=dates,
        folds=[],
        trials=dates,
        manifest={"timings_s": {}, "command": {"end": day.isoformat(), "k": k}},
        warnings=(),
        signal=_sig(day, "run", k),
    )


step = st.tuples(st.sampled_from(["run", "signals"]), st.integers(0, 4))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=st.lists(step, min_size=1, max_size=7))
def test_any_sequence_keeps_verify_clean_and_the_newest_call(
    steps: list[tuple[str, int]], tmp_path_factory: pytest.TempPathFactory, monkeypatch
) -> None:
    """After each step of any sequence of runs and ``signals`` calls (decision days in any
    order): verify is clean; signals_today.json holds the newest decision day issued (the last
    call for that day); each call's record is at signals/D.json; the run's manifest lists
    signals_today.json exactly when the file is the run's own."""
    monkeypatch.setattr(write_mod, "dashboard_html", lambda res, cfg: "<html><head></head></html>")
    root = tmp_path_factory.mktemp("seq")
    cfg = load_config(None).with_overrides(output_root=root, lake=root.parent / "no_lake")
    newest: tuple[date, dict] | None = None
    records: dict[date, dict] = {}
    for k, (cmd, offset) in enumerate(steps):
        day = D0 + timedelta(days=offset)
        if cmd == "run":
            res = _result(day, k)
            write_run(res, cfg)
            mine = json.dumps(res.signal)
        else:
            sig = _sig(day, "signals", k)
            with writing_outputs(root, command="signals") as out:
                publish_signal(out, sig)
            mine = json.dumps(sig)
            records[day] = json.loads(mine)
        if newest is None or day >= newest[0]:
            newest = (day, json.loads(mine))
        rep = verify(root)
        assert not rep.problems, (steps[: k + 1], rep.problems)
        today = json.loads((root / "reports/majors_alts/signals_today.json").read_text())
        assert today == newest[1], steps[: k + 1]
        for d, want in records.items():
            got = json.loads((root / f"reports/majors_alts/signals/{d}.json").read_text())
            assert got == want
        if cmd == "run":  # the run lists the file when it wrote its own (not a newer call)
            man = json.loads((root / "artifacts/majors_alts/run_manifest.json").read_text())
            listed = "reports/majors_alts/signals_today.json" in man["files"]
            assert listed == (today["generated_at"] == f"run-{k}")
