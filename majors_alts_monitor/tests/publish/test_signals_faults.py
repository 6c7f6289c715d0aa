"""Faults in every write of the real ``signals`` (review defect 13): what ``cmd_signals`` does
once its call is computed, replayed on outputs rendered once: the call's own record
``signals/D.json`` (temporary name, rename), ``signals_today.json`` (a generation carrying
the run's files), the ledger's folder (the generation that links it into the run set, the first
time) and the ledger record (temporary name, hard link).

The k-th write, fsync, rename, symlink, hard link, mkdir and removal fails with ENOSPC or EIO,
or a Ctrl-C arrives there, for every k, from two starting points (a root holding only a run;
a root where an earlier call was already issued). After each:

- ``verify`` passes (readers see whole sets and whole records);
- ``signals_today.json`` is the old or the new call, never anything else;
- what the command says it wrote outside the generations (``generations.kept``, in its
  failure and interrupted messages) is exactly what is there, and "nothing recorded" / "it is
  as it was" are true;
- the next ``signals`` succeeds: the record, ``signals_today.json`` and one ledger record for
  the day, ``verify`` clean.

Then a real process is SIGKILLed at a sample of its steps, and the next ``signals`` succeeds.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from majors_alts_monitor.errors import PublishError
from majors_alts_monitor.morning import ledger
from majors_alts_monitor.publish import fsops, generations
from majors_alts_monitor.publish.layout import OutputRoot, shown_path, writing_outputs
from majors_alts_monitor.publish.verify import verify
from majors_alts_monitor.report.outputs import to_json_bytes
from majors_alts_monitor.report.signal_files import publish_signal
from majors_alts_monitor.shell import outputs_state

from .conftest import Sets, copy_root
from .test_fault_injection import FAULTS, KINDS, Inject

ROOT = Path(__file__).resolve().parents[3]


def call(day: str, exposure: float) -> dict:
    book = [
        {"asset_id": "BTC", "side": "long", "weight": 0.6},
        {"asset_id": "ETH", "side": "long", "weight": 0.4},
        {"asset_id": "ALT1", "side": "short", "weight": -1.0},
    ]
    return {
        "decision_date": day,
        "asof": day,
        "regime": "BALANCED",
        "exposure": exposure,
        "score": 0.25,
        "book": book,
        "targets": [{**b, "weight": b["weight"] * exposure} for b in book],
        "model": {"config_hash": "c0ffee"},
    }


EARLIER, NEW = call("2021-08-30", 0.5), call("2021-08-31", 1.0)


def issue(root: Path, lake: Path, sig: dict) -> None:
    """What ``cmd_signals`` writes once the call is computed (``Issuing.record``: the lake's
    fingerprint is computed before, nothing is written for it)."""
    with writing_outputs(root, lakes=[lake], command="signals") as out:
        publish_signal(out, sig)
        ledger.issue(out, sig, command="signals", lake_fp="f" * 16, asof=True)


def paths(root: Path) -> tuple[Path, Path, Path]:
    out = OutputRoot(root)
    keep = out.home / "keep" / "run" / "reports"
    return keep / "signals" / "2021-08-31.json", keep / "ledger", out.reports / "signals_today.json"


def today_of(root: Path) -> bytes | None:
    p = paths(root)[2]
    return p.read_bytes() if p.exists() else None


def day_records(root: Path) -> list[dict]:
    return [r for r in ledger.read(paths(root)[1]) if r["decision_date"] == NEW["decision_date"]]


def check(root: Path, before_today: bytes | None, message: str) -> None:
    record, folder, _ = paths(root)
    rep = verify(root)
    assert not rep.problems, rep.problems
    assert today_of(root) in (before_today, to_json_bytes(NEW)), "signals_today.json torn"
    assert not record.exists() or record.read_bytes() == to_json_bytes(NEW)
    recs = day_records(root)
    assert len(recs) <= 1
    kept = set(generations.kept)
    # what the command says it wrote outside the generations is exactly what is there
    assert (record in kept) == record.exists(), (kept, record.exists())
    assert bool(recs) == any(p.parent == folder for p in kept), (kept, recs)
    if "nothing recorded" in message:
        assert not recs
    if "it is as it was" in message:
        assert not record.exists()
    if kept:  # the failure and interrupted messages name them, as readers see them
        state = outputs_state()
        assert all(str(shown_path(p)) in state for p in kept) and "untouched" not in state


def start_points(sets: Sets, base: Path) -> dict[str, Path]:
    """A root holding only a run; a root where the call for the day before was issued."""
    only_run = copy_root(sets.root_old, base / "only-run")
    issued = copy_root(sets.root_old, base / "issued")
    issue(issued, sets.lake, EARLIER)
    return {"only-run": only_run, "issued": issued}


@pytest.mark.parametrize("start", ["only-run", "issued"])
def test_every_fault_in_every_write_of_signals(sets: Sets, fast_tmp: Path, start: str) -> None:
    base = fast_tmp / f"signals-faults-{start}"
    template = start_points(sets, base)[start]
    probe = Inject(None, 0, errno.EIO)
    with fsops.hooked(probe):
        issue(copy_root(template, base / "probe"), sets.lake, NEW)
    assert probe.counts.get("link", 0) >= 2 and probe.counts.get("rename", 0) >= 2, probe.counts
    cases = [(kind, k, f) for kind in KINDS for k in range(1, probe.counts.get(kind, 0) + 1)
             for f in FAULTS]  # fmt: skip
    before = today_of(template)
    for i, (kind, k, fault) in enumerate(cases):
        root = copy_root(template, base / f"c{i}")
        generations.reset()
        message = ""
        try:
            with fsops.hooked(Inject(kind, k, fault)):
                issue(root, sets.lake, NEW)
        except PublishError as err:
            message = str(err)
            assert fault != "ctrl-c"
        except KeyboardInterrupt:
            assert fault == "ctrl-c"
        try:
            check(root, before, message)
            generations.reset()
            issue(root, sets.lake, NEW)  # the next signals succeeds
            assert not verify(root).problems
            assert today_of(root) == to_json_bytes(NEW) and len(day_records(root)) == 1
            assert paths(root)[0].read_bytes() == to_json_bytes(NEW)
        except AssertionError as err:
            raise AssertionError(f"fault {fault} at {kind} #{k}: {message}: {err}") from None
    generations.reset()


KILLER = """
import json, os, signal, sys
from pathlib import Path
from majors_alts_monitor.publish import fsops
sys.path.insert(0, sys.argv[4])
from majors_alts_monitor.tests.publish.test_signals_faults import NEW, issue
root, lake, k = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
n = 0
def hook(op, path):
    global n
    n += 1
    if n == k:
        os.kill(os.getpid(), signal.SIGKILL)
fsops.hook = hook
issue(root, lake, NEW)
print("STEPS", n)
"""


def test_signals_killed_at_a_sample_of_its_writes(sets: Sets, fast_tmp: Path) -> None:
    base = fast_tmp / "signals-kill"
    template = start_points(sets, base)["only-run"]
    probe = Inject(None, 0, errno.EIO)
    with fsops.hooked(probe):
        issue(copy_root(template, base / "probe"), sets.lake, NEW)
    total = sum(probe.counts.values())
    before = today_of(template)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # (a process of its own makes a few operations fewer: its lock file is new)
    for k in sorted({1, *range(2, total - 4, max(1, total // 6)), total - 4}):
        root = copy_root(template, base / f"k{k}")
        r = subprocess.run(
            [sys.executable, "-c", KILLER, str(root), str(sets.lake), str(k), str(ROOT)],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert r.returncode == -signal.SIGKILL, (k, r.stdout, r.stderr[-2000:])
        assert not verify(root).problems, (k, verify(root).problems)
        assert today_of(root) in (before, to_json_bytes(NEW))
        generations.reset()
        issue(root, sets.lake, NEW)
        assert not verify(root).problems and len(day_records(root)) == 1
        assert today_of(root) == to_json_bytes(NEW)
    generations.reset()


def test_verify_says_which_file_of_the_run_signals_replaced(sets: Sets, fast_tmp: Path) -> None:
    """Review defect 7: after ``signals``, ``verify`` names ``signals_today.json`` as replaced
    by ``signals`` instead of "every file it lists is its own"."""
    root = copy_root(sets.root_old, fast_tmp / "replaced")
    line = next(x for x in verify(root).ok if x.startswith("run manifest"))
    assert line.endswith("every file it lists is its own")
    issue(root, sets.lake, NEW)
    generations.reset()
    rep = verify(root)
    line = next(x for x in rep.ok if x.startswith("run manifest"))
    assert not rep.problems and "except reports/majors_alts/signals_today.json" in line, line
    assert "replaced by signals" in line
    assert any(x.startswith("ledger: 1 records whole") for x in rep.ok), rep.ok
    assert json.loads(paths(root)[2].read_text())["decision_date"] == "2021-08-31"
