"""Review defects 2, 6 and 8: a damaged, foreign or half record in ``ledger/`` is left out with
a warning naming the file and what to do, never a traceback; ``verify`` checks ``ledger/`` and
``signals/`` record by record; a failure says truthfully what was written outside the
generations; a late call (today's, on a stale lake) is not a backfill; ``daily`` goes on after
an unexpected failure of its update; ``daily --help`` offers no ``--demo``."""

from __future__ import annotations

import argparse
import json
import logging
from datetime import date
from pathlib import Path

import pytest

from majors_alts_monitor import cli
from majors_alts_monitor.morning import ledger
from majors_alts_monitor.morning.commands import cmd_daily
from majors_alts_monitor.publish.layout import writing_outputs
from majors_alts_monitor.publish.verify import verify


def _sig(day: str = "2024-01-01", exposure: float = 0.5) -> dict:
    book = [
        {"asset_id": "BTC", "side": "long", "weight": 0.6},
        {"asset_id": "ALT1", "side": "short", "weight": -1.0},
    ]
    return {
        "decision_date": day,
        "regime": "BALANCED",
        "exposure": exposure,
        "score": 0.1,
        "book": book,
        "targets": [{**b, "weight": b["weight"] * exposure} for b in book],
        "model": {"config_hash": "c0ffee"},
    }


def _damage(folder: Path) -> dict[str, str]:
    """One good record and every kind of bad file beside it: name -> what verify says."""
    good = ledger.append(folder, ledger.make_record(_sig(), command="signals", lake_fp="a"))
    rec = json.loads(good.path.read_text())
    edited = {**rec, "exposure": 1.0}  # edited after it was written: no longer its name
    bad = {
        "2024-01-02_0000000000000000.json": (b"{}", "not a ledger record"),
        "2024-01-03_0000000000000000.json": (b'{"decision_date": "2024-01-03"', "not JSON"),
        "2024-01-04_0000000000000000.json": (b"[1, 2]", "not a JSON object"),
        "2024-01-05_0000000000000000.json": (
            json.dumps({**rec, "exposure": "high"}).encode(),
            "exposure of the wrong type",
        ),
        "2024-01-06_0000000000000000.json": (good.path.read_bytes(), "does not match"),
        good.path.name.replace(".json", "x.json"): (good.path.read_bytes(), "does not match"),
        "2024-01-09_0000000000000000.json": (
            json.dumps({**rec, "targets": [{"asset_id": "BTC", "weight": "0.3"}]}).encode(),
            "targets (rows of asset_id and a numeric weight) of the wrong type",
        ),
        "2024-01-07_0000000000000000.json": (
            json.dumps({**rec, "decision_date": "2024-13-01"}).encode(),
            "cannot be read as a call",
        ),
    }
    for name, (data, _) in bad.items():
        (folder / name).write_bytes(data)
    (folder / ".x.json.tmp-1").write_bytes(b"{")  # an interrupted writer's: no record
    edited_name = "2024-01-08_" + ledger.answer_hash({**edited, "decision_date": "2024-01-08"})
    (folder / f"{edited_name}.json").write_text(json.dumps(edited))  # name of another answer
    return {**{n: w for n, (_, w) in bad.items()}, f"{edited_name}.json": "does not match"}


def test_bad_records_are_left_out_with_a_warning_and_named_by_verify(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "out"
    with writing_outputs(root, lakes=[], command="signals") as out:
        folder = out.keep_dir("run", ledger.LEDGER_REL)
        signals = out.keep_dir("run", "reports/signals")
    bad = _damage(folder)
    (signals / "2024-01-01.json").write_text(json.dumps(_sig()))
    (signals / "2024-01-02.json").write_text(json.dumps(_sig()))  # another day's call
    (signals / "2024-01-03.json").write_text("{}")
    log = logging.getLogger("majors_alts_monitor")  # (not propagated once a command ran)
    log.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger="majors_alts_monitor"):
            recs = ledger.read(folder)
    finally:
        log.removeHandler(caplog.handler)
    assert [r["decision_date"] for r in recs] == ["2024-01-01"]
    shown = root / "reports/majors_alts/ledger"
    for name in bad:
        line = next((m for m in caplog.messages if name in m), None)
        assert line is not None, name
        assert str(shown / name) in line and "left out" in line and "What to do" in line
    rep = verify(root)
    for name, why in bad.items():
        hit = [p for p in rep.problems if str(shown / name) in p]
        assert len(hit) == 1 and why in hit[0] and "What to do" in hit[0], (name, rep.problems)
    sig_problems = [p for p in rep.problems if p.startswith("signals:")]
    assert len(sig_problems) == 2, sig_problems
    assert any("2024-01-02.json" in p and "decision day 2024-01-01" in p for p in sig_problems)
    assert any("2024-01-03.json" in p and "not a signal record" in p for p in sig_problems)
    assert any("1 temporary file" in x for x in rep.ok), rep.ok


def test_a_late_call_is_not_a_backfill() -> None:
    """Review defect 6: backfilled means asked with --asof for a past day."""
    today = date(2024, 1, 5)  # the call for 2024-01-02 was over when issued
    late = ledger.make_record(_sig(), command="signals", lake_fp="a", today=today, asof=False)
    back = ledger.make_record(_sig(), command="signals", lake_fp="a", today=today, asof=True)
    assert late["late"] and not late["backfilled"]
    assert back["backfilled"] and not back["late"]
    on_time = ledger.make_record(
        _sig(), command="signals", lake_fp="a", today=date(2024, 1, 2), asof=False
    )
    assert not on_time["late"] and not on_time["backfilled"]
    done = ledger.Appended(Path("x.json"), late, True)
    assert "late" in done.line() and "backfilled" not in done.line()


def test_signals_and_ledger_with_a_damaged_record(
    synth_lake: Path, quick_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The review's case: '{}' over the day's record, then the same call again: exit 2 naming
    the file and what to do, and the note says signals/D.json was written; no traceback.
    Today's call on a stale lake (--allow-stale, no --asof) is recorded late, not backfilled."""
    root = tmp_path / "out"
    argv = ["signals", "--lake", str(synth_lake), "--output-root", str(root), "--config",
            str(quick_config), "--today", "2023-07-05", "--allow-stale", "--quiet"]  # fmt: skip
    assert cli.main(argv) == 0
    folder = root / "reports/majors_alts/ledger"
    (rec,) = ledger.read(folder)
    assert rec["decision_date"] == "2023-06-30" and rec["late"] and not rec["backfilled"]
    (folder / rec["_file"]).write_text("{}")
    capsys.readouterr()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "KeyError" not in err and "untouched" not in err
    assert f"{folder / rec['_file']} is damaged" in err and "What to do: move" in err
    assert str(root / "reports/majors_alts/signals/2023-06-30.json") in err  # said: written
    problems = verify(root).problems
    assert len(problems) == 1 and rec["_file"] in problems[0], problems
    common = ["--lake", str(synth_lake), "--output-root", str(root), "--config", str(quick_config)]
    assert cli.main(["ledger", *common, "--today", "2023-07-05"]) == 2  # no whole record left
    err = capsys.readouterr().err
    assert "Traceback" not in err and "left out" in err and "no whole record" in err


def _daily_args(tmp_path: Path, *extra: str) -> argparse.Namespace:
    lake = tmp_path / "lake"
    lake.mkdir(exist_ok=True)
    return cli.build_parser().parse_args(
        ["daily", "--lake", str(lake), "--output-root", str(tmp_path / "out"), *extra]
    )


def test_daily_goes_on_after_an_unexpected_failure_of_the_update(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review defect 8: an exit-1 failure in update does not skip the signal."""
    called: list[str] = []

    def update(ns: argparse.Namespace) -> int:
        called.append("update")
        raise RuntimeError("disk on fire")

    def signals(ns: argparse.Namespace) -> int:
        called.append("signals")
        return 0

    handlers = {"update": update, "signals": signals}
    code = cmd_daily(_daily_args(tmp_path), cli.build_parser().parse_args, handlers)
    err = capsys.readouterr().err
    assert called == ["update", "signals"] and code == 1
    assert "unexpected failure: RuntimeError: disk on fire" in err and "Traceback" in err
    assert "steps: update binance-archive 1, signals 0" in err

    def interrupted(ns: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # a Ctrl-C still stops the morning
        cmd_daily(_daily_args(tmp_path), cli.build_parser().parse_args, {"update": interrupted})


def test_daily_does_not_offer_demo(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["daily", "--help"])
    assert "--demo" not in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        cli.build_parser().parse_args(["daily", "--demo"])
    assert e.value.code == 2
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["signals", "--help"])
    assert "--demo" in capsys.readouterr().out  # the other commands keep it
