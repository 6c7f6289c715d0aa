"""Issue 21, item 3: the ledger of issued signals. One record per file, appended whole or not at
all (a writer SIGKILLed mid-append loses nothing it reported and leaves no half record), two
writers at once (two ``signals`` processes) both recorded; the same answer recorded once
whatever the lake's fingerprint; a different answer a revision beside the original; orders
against the last ledger entry (item 4)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from majors_alts_monitor import cli
from majors_alts_monitor.morning import ledger
from majors_alts_monitor.morning.verify import verify
from majors_alts_monitor.report.orders import orders

ROOT = Path(__file__).resolve().parents[3]
D1, D2 = date(2023, 5, 31), date(2023, 6, 20)


def _sig(day: str = "2024-01-01", regime: str = "BALANCED", exposure: float = 0.5) -> dict:
    book = [
        {"asset_id": "BTC", "side": "long", "weight": 0.6},
        {"asset_id": "ETH", "side": "long", "weight": 0.4},
        {"asset_id": "ALT1", "side": "short", "weight": -1.0},
    ]
    return {
        "decision_date": day,
        "asof": day,
        "regime": regime,
        "previous_regime": regime,
        "exposure": exposure,
        "score": 0.25,
        "action": "HOLD",
        "book": book,
        "targets": [{**b, "weight": b["weight"] * exposure} for b in book],
        "generated_at": "2024-01-02T06:00:00+00:00",
        "model": {"config_hash": "c0ffee", "mode": "composite", "fold": 3, "origin": day},
    }


def test_the_same_answer_is_recorded_once_and_a_new_one_beside_it(tmp_path: Path) -> None:
    folder = tmp_path / "ledger"
    folder.mkdir()
    today = date(2024, 1, 2)
    a = ledger.append(
        folder, ledger.make_record(_sig(), command="signals", lake_fp="aa", today=today)
    )
    assert a.added and a.record["revision"] == 0 and not a.record["backfilled"]
    original = a.path.read_bytes()
    # the same call on another lake (or the same lake later): nothing added
    again = _sig() | {"generated_at": "2024-01-02T07:00:00+00:00", "warnings": ["x"]}
    b = ledger.append(folder, ledger.make_record(again, command="daily", lake_fp="bb", today=today))
    assert not b.added and b.path == a.path
    # the answer to 1e-9: a last-bit difference is the same answer
    tiny = _sig(exposure=0.5 + 1e-13)
    assert ledger.answer_hash(tiny) == ledger.answer_hash(_sig())
    # another answer for the issued day: a revision beside the original, never over it
    c = ledger.append(
        folder, ledger.make_record(_sig(exposure=1.0), command="signals", lake_fp="bb", today=today)
    )
    assert c.added and c.record["revision"] == 1 and c.record["revises"] == a.record["answer"]
    assert a.path.read_bytes() == original
    recs = ledger.read(folder)
    assert [r["revision"] for r in recs] == [0, 1]
    assert ledger.first_calls(recs)["2024-01-01"]["exposure"] == 0.5
    # backfilled: the day the call trades was over when it was issued
    late = ledger.make_record(_sig(), command="signals", lake_fp="aa", today=date(2024, 1, 3))
    assert late["backfilled"] and late["trade_date"] == "2024-01-02"


WRITER = """
import sys, json
from datetime import date, timedelta
from majors_alts_monitor.morning import ledger
folder, start = sys.argv[1], int(sys.argv[2])
book = [{"asset_id": f"ALT{j:03d}", "side": "short", "weight": -0.005} for j in range(200)]
for i in range(start, start + 100000):
    day = (date(2000, 1, 1) + timedelta(days=i)).isoformat()
    sig = {"decision_date": day, "regime": "BALANCED", "exposure": 0.5, "score": i,
           "book": book, "targets": book}
    rec = ledger.make_record(sig, command="test", lake_fp="x", today=date(2100, 1, 1))
    done = ledger.append(folder, rec)
    print(done.path.name, flush=True)
"""


def test_a_writer_killed_mid_append_loses_nothing_and_leaves_no_half_record(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "ledger"
    folder.mkdir()
    reported: list[str] = []
    rng = random.Random(7)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for k in range(8):
        p = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(folder), str(k * 100000)],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert p.stdout is not None
        first = p.stdout.readline()  # appending has begun
        time.sleep(rng.uniform(0.0, 0.3))
        p.send_signal(signal.SIGKILL)
        rest = p.stdout.read()
        p.wait()
        reported += [n for n in (first + rest).decode().split("\n") if n]
        recs = ledger.read(folder)  # every record readable
        names = {r["_file"] for r in recs}
        assert set(reported) <= names, "a record the writer reported is lost"
        for r in recs:
            assert (
                len(r["book"]) == 200 and r["_file"] == f"{r['decision_date']}_{r['answer']}.json"
            )
    # what a kill can leave is a temporary file, which is no record; a later writer goes on
    assert all(n.endswith(".json") or n.startswith(".") for n in os.listdir(folder))
    n = len(ledger.read(folder))
    rec = ledger.make_record(_sig("1999-01-01"), command="test", lake_fp="x")
    assert ledger.append(folder, rec).added and len(ledger.read(folder)) == n + 1


APPENDER = """
import sys
from datetime import date
from majors_alts_monitor.morning import ledger
folder, who = sys.argv[1], sys.argv[2]
for i in range(150):
    # half the records are the same for both writers (one of them records it)
    sig = {"decision_date": f"2001-01-{1 + i % 28:02d}", "exposure": 0.5, "score": i,
           "regime": "BALANCED" if i % 2 else f"W{who}", "book": [], "targets": []}
    rec = ledger.make_record(sig, command="test", lake_fp="x", today=date(2100, 1, 1))
    ledger.append(folder, {**rec, "who": who, "pad": "x" * 20000})
"""


def test_two_writers_at_once_tear_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "ledger"
    folder.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ps = [
        subprocess.Popen([sys.executable, "-c", APPENDER, str(folder), w], env=env)
        for w in ("a", "b")
    ]
    assert [p.wait(timeout=120) for p in ps] == [0, 0]
    recs = ledger.read(folder)
    assert len(recs) == 75 + 2 * 75  # shared odd answers once, each writer's even ones
    assert all(len(r["pad"]) == 20000 for r in recs)


def _signals(lake: Path, root: Path, cfg: Path, asof: date, *extra: str, today: date) -> dict:
    argv = ["signals", "--lake", str(lake), "--output-root", str(root), "--config", str(cfg)]
    argv += ["--asof", asof.isoformat(), "--today", today.isoformat(), "--quiet", *extra]
    assert cli.main(argv) == 0
    return json.loads((root / "reports/majors_alts/signals_today.json").read_text())


def test_concurrent_signals_processes_both_recorded(
    synth_lake: Path, quick_config: Path, tmp_path: Path
) -> None:
    root = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MAJORS_ALTS_LOCK_WAIT_S": "600"}
    ps = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "majors_alts_monitor.signals",
                "--lake",
                str(synth_lake),
                "--output-root",
                str(root),
                "--config",
                str(quick_config),
                "--asof",
                d.isoformat(),
                "--today",
                (D2 + timedelta(days=1)).isoformat(),
                "--quiet",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        for d in (D1, D2)
    ]
    errs = [p.communicate(timeout=600)[1].decode() for p in ps]
    assert [p.returncode for p in ps] == [0, 0], errs
    recs = ledger.read(root / "reports/majors_alts/ledger")
    assert sorted(r["decision_date"] for r in recs) == [D1.isoformat(), D2.isoformat()]
    assert [r["backfilled"] for r in recs] == [True, False], [
        (r["decision_date"], r["issued_on"]) for r in recs
    ]
    assert not verify(root).problems


def test_orders_against_the_last_ledger_entry_and_revisions(
    synth_lake: Path, quick_config: Path, tmp_path: Path
) -> None:
    root = tmp_path / "out"
    today = D2 + timedelta(days=1)
    s1 = _signals(synth_lake, root, quick_config, D1, "--capital", "1000000", today=today)
    assert s1["orders"]["against"] == "flat" and s1["orders"]["ledger_entry"] is None
    s2 = _signals(
        synth_lake, root, quick_config, D2, "--capital", "1000000", "--min-order", "1000",
        today=today,
    )  # fmt: skip
    od = s2["orders"]
    assert od["against"] == "ledger" and od["ledger_entry"]["decision_date"] == D1.isoformat()
    held = {t["asset_id"]: t["weight"] * 1e6 for t in s1["targets"]}
    want = orders(s2["targets"], held, 1e6, 1000.0)
    assert od["rows"] == want["rows"] and od["traded_usd"] == want["traded_usd"]
    folder = root / "reports/majors_alts/ledger"
    recs = ledger.read(folder)
    assert len(recs) == 2
    r2 = next(r for r in recs if r["decision_date"] == D2.isoformat())
    assert not r2["backfilled"] and r2["command"] == "signals"
    assert r2["config_hash"] == s2["model"]["config_hash"] and r2["package_version"]
    # the same day again after the lake changed (its fingerprint moves): nothing added
    os.utime(synth_lake / "fact_price.parquet")
    _signals(synth_lake, root, quick_config, D2, today=today)
    again = ledger.read(folder)
    assert len(again) == 2
    # a different answer for the issued day (another exposure map): a revision beside it
    cfg2 = tmp_path / "other.yaml"
    cfg2.write_text(
        quick_config.read_text()
        + "regime:\n  exposure: {RISK_ON_MAJORS: 0.7, BALANCED: 0.3, RISK_ON_ALTS: 0.1}\n"
    )
    before = {r["_file"]: (folder / r["_file"]).read_bytes() for r in again}
    s3 = _signals(synth_lake, root, cfg2, D2, today=today)
    recs = ledger.read(folder)
    day2 = [r for r in recs if r["decision_date"] == D2.isoformat()]
    # every regime's exposure differs between the two maps, so the answer must differ
    assert (s3["exposure"], s3["targets"]) != (s2["exposure"], s2["targets"])
    assert [r["revision"] for r in day2] == [0, 1] and day2[1]["revises"] == day2[0]["answer"]
    assert all((folder / f).read_bytes() == b for f, b in before.items())
    assert not verify(root).problems
