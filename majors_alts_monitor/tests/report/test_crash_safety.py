"""Crash safety, one writer per output root, and determinism of a run's outputs (issues 11, 17).

- A run is killed with SIGKILL at several points of its publication (a subprocess whose
  publication layer, ``publish.fsops``, kills it at the k-th file-system operation). Right after
  the kill, and after the next writer, what readers see is one run's set, whole: every file has
  the sha256 the manifest lists, and the run id in kpis.json, the parquet metadata and the
  dashboard is the manifest's. (Faults at every step, for every writer, at the commit layer:
  ``tests/publish/test_fault_injection.py``.)
- A second process refuses an output root in use, with a message naming the owner; a lock
  whose owner was killed does not block; a waiter proceeds when the owner finishes.
- Two runs on the same inputs write byte-identical files (``generated_at`` and timings aside,
  which live in the manifest and signals_today.json's ``generated_at`` only).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake
from majors_alts_monitor.publish.generations import Store
from majors_alts_monitor.publish.layout import OutputRoot, writing_outputs
from majors_alts_monitor.publish.verify import verify_root
from majors_alts_monitor.report.outputs import VOLATILE


def verify(root: Path) -> list[str]:
    return verify_root(root).problems


def output_lock(root: Path, wait_s: float):  # the output root held for writing
    return writing_outputs(root, wait_s=wait_s)


SPEC = SyntheticSpec(n_assets=14, start=date(2020, 1, 1), end=date(2021, 10, 31), seed=11)
SMALL_RUN = "walkforward:\n  train_days: 200\n  test_days: 60\nstats:\n  n_boot: 100\n"
OLD_END, NEW_END = "2021-08-31", "2021-10-31"
# runs the CLI with publication's file-system operations counted; kills itself at step K
KILLER = """
import os, signal, sys
from majors_alts_monitor.publish import fsops
K = int(sys.argv[1])
n = 0
def step(op, path):
    global n
    n += 1
    if n == K:
        os.kill(os.getpid(), signal.SIGKILL)
fsops.hook = step
from majors_alts_monitor import cli
code = cli.main(sys.argv[2:])
print(f"STEPS {n}", file=sys.stderr)
sys.exit(code)
"""


# files that carry the clock (generated_at, timings, log times) or the output root's path
VOLATILE_FILES = {
    "artifacts/majors_alts/run_manifest.json",
    "artifacts/majors_alts/run.log",
    "reports/majors_alts/signals_today.json",
}


def stable(files: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in files.items() if k not in VOLATILE_FILES}


def digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def files_of(root: Path) -> dict[str, str]:
    """Every output file a reader sees at the documented paths (relative path) with its sha256
    (the lock, the generations' records and ``cache/``, what can be deleted without loss, are
    not a run's output set)."""
    out = {}
    for top in ("reports/majors_alts", "artifacts/majors_alts"):
        for dirpath, _dirs, files in os.walk(root / top, followlinks=True):
            for f in files:
                p = Path(dirpath) / f
                out[str(p.relative_to(root))] = digest(p)
    return dict(sorted(out.items()))


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("crash")
    lake, _ = write_lake(generate(SPEC), base / "synth")
    cfg = base / "small.yaml"
    cfg.write_text(SMALL_RUN)
    return {"base": base, "lake": lake, "cfg": cfg}


def run_args(setup: dict, root: Path, end: str) -> list[str]:
    return [
        "run",
        "--lake",
        str(setup["lake"]),
        "--config",
        str(setup["cfg"]),
        "--output-root",
        str(root),
        "--end",
        end,
        "--quiet",
    ]


def killer(setup: dict, k: int, root: Path, end: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "MAJORS_ALTS_LOCK_WAIT_S": "0"}
    return subprocess.run(
        [sys.executable, "-c", KILLER, str(k), *run_args(setup, root, end)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


@pytest.fixture(scope="module")
def runs(setup: dict) -> dict:
    """The old outputs (--end OLD_END) and a complete new run (NEW_END) over a copy of them."""
    base = setup["base"]
    old = base / "old"
    r = killer(setup, 0, old, OLD_END)
    assert r.returncode == 0, r.stderr
    new = base / "new"
    shutil.copytree(old, new, symlinks=True)
    r = killer(setup, 0, new, NEW_END)
    assert r.returncode == 0, r.stderr
    steps = int(r.stderr.rsplit("STEPS", 1)[1])
    return {"old": old, "new": new, "steps": steps}


def run_id_everywhere(root: Path) -> set[str]:
    rep, art = root / "reports/majors_alts", root / "artifacts/majors_alts"
    ids = {
        json.loads((art / "run_manifest.json").read_text())["run_id"],
        json.loads((rep / "kpis.json").read_text())["run_id"],
    }
    for f in (rep / "features_wide.parquet", art / "trials.parquet"):
        ids.add(pl.read_parquet_metadata(f)["majors_alts_run_id"])
    html = (rep / "dashboard.html").read_text()
    ids.add(html.split('name="majors-alts-run-id" content="', 1)[1].split('"', 1)[0])
    return ids


def test_reference_runs_are_whole_and_differ(runs: dict) -> None:
    assert verify(runs["old"]) == [] and verify(runs["new"]) == []
    (old_id,), (new_id,) = run_id_everywhere(runs["old"]), run_id_everywhere(runs["new"])
    assert old_id != new_id
    man = json.loads((runs["new"] / "artifacts/majors_alts/run_manifest.json").read_text())
    assert len(man["files"]) + 1 >= 12 and runs["steps"] > 2 * len(man["files"])
    assert set(files_of(runs["new"])) == {*man["files"], "artifacts/majors_alts/run_manifest.json"}
    # the documented folders are links into one generation, switched by one rename
    for top in ("reports", "artifacts"):
        assert (runs["new"] / top / "majors_alts").is_symlink()


@pytest.mark.slow
def test_sigkill_during_the_publication_leaves_one_whole_run(setup: dict, runs: dict) -> None:
    old, new = files_of(runs["old"]), files_of(runs["new"])
    n = runs["steps"]  # the file-system steps of one publication over the old set
    for k in (3, n // 2, n - 4, n - 1):
        root = setup["base"] / f"killed_{k}"
        shutil.copytree(runs["old"], root, symlinks=True)
        r = killer(setup, k, root, NEW_END)
        assert r.returncode == -signal.SIGKILL, (k, r.returncode, r.stderr[-2000:])
        for when in ("right after the kill", "after the next writer's recovery"):
            assert verify(root) == [], (k, when, verify(root))
            ids = run_id_everywhere(root)
            assert len(ids) == 1, (k, when, ids)
            now = files_of(root)
            want = new if ids == run_id_everywhere(runs["new"]) else old
            assert stable(now) == stable(want), (k, when)
            with output_lock(root, wait_s=0):
                pass
        gens = OutputRoot(root).run.gens
        assert len(list(gens.iterdir())) <= 2, k  # what the killed writer left is removed
        shutil.rmtree(root)


def test_second_writer_refuses_with_the_owner_named(setup: dict, tmp_path: Path) -> None:
    root = tmp_path / "busy"
    with output_lock(root, wait_s=0):
        r = subprocess.run(
            [sys.executable, "-m", "majors_alts_monitor", *run_args(setup, root, NEW_END)],
            capture_output=True,
            text=True,
            env={**os.environ, "MAJORS_ALTS_LOCK_WAIT_S": "0.5"},
            timeout=300,
        )
    assert r.returncode == 2, r.stderr
    assert f"output root {root} is in use by pid {os.getpid()}" in r.stderr
    assert "Traceback" not in r.stderr and "waited 0.5 s" in r.stderr
    assert not (root / "reports/majors_alts").exists()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_a_killed_owner_does_not_block_and_a_waiter_proceeds(tmp_path: Path) -> None:
    root = tmp_path / "out"
    holder = (
        "import os, signal, sys, time\n"
        "from majors_alts_monitor.publish.layout import writing_outputs\n"
        "with writing_outputs(sys.argv[1], wait_s=0):\n"
        "    print('held', flush=True)\n"
        "    if sys.argv[2] == 'die':\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    time.sleep(float(sys.argv[2]))\n"
    )
    r = subprocess.run([sys.executable, "-c", holder, str(root), "die"], capture_output=True)
    assert r.returncode == -signal.SIGKILL
    assert "pid" in (root / "reports/.majors_alts.lock").read_text()  # the dead owner's note
    t = time.monotonic()
    with output_lock(root, wait_s=0):
        assert time.monotonic() - t < 1.0
    p = subprocess.Popen(
        [sys.executable, "-c", holder, str(root), "1.5"], stdout=subprocess.PIPE, text=True
    )
    # the package logger does not propagate once the CLI has set it up: listen on it
    seen = _Records()
    logging.getLogger("majors_alts_monitor").addHandler(seen)
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "held"
        t = time.monotonic()
        with output_lock(root, wait_s=30):
            waited = time.monotonic() - t
        assert 0.3 < waited < 30
        assert any("in use by pid" in m and "waiting up to 30 s" in m for m in seen.messages)
    finally:
        logging.getLogger("majors_alts_monitor").removeHandler(seen)
        p.wait(timeout=30)
    # re-entrant in one process (a sweep inside a run may take it again)
    with output_lock(root, wait_s=0), output_lock(root, wait_s=0):
        pass


def test_recovery_removes_what_dead_writers_left_only(tmp_path: Path) -> None:
    """Generations never switched in are removed when their writer is dead (or is this
    process); a live writer's (one that got in without the lock) is left alone."""
    store = Store(tmp_path / "store", "test")
    store.publish({"a.txt": b"1"}, command="t", where=tmp_path)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    gone = store.gens / f"20990101T000000000000Z-{int(dead.stdout)}-aaaaaa"
    live = store.gens / f"20990101T000000000000Z-{os.getppid()}-bbbbbb"
    for g in (gone, live):
        g.mkdir()
        (g / "a.txt").write_text("half")
    tmp_link = store.home / f".current.tmp-{int(dead.stdout)}"
    tmp_link.symlink_to("gens/nowhere")
    done = store.prune()
    assert done == [gone.name] and live.is_dir() and not tmp_link.is_symlink()
    assert (store.home / "current").resolve().parent == store.gens.resolve()


def _strip_volatile(man: dict) -> dict:
    man = {k: v for k, v in man.items() if k not in VOLATILE}
    man["config"]["paths"].pop("output_root")
    man.pop("files")  # hashes of the files compared one by one below (run.log has times)
    return man


def test_two_runs_on_the_same_inputs_are_byte_identical(setup: dict, runs: dict) -> None:
    """A fresh root against the reference run (which was written over older outputs)."""
    a, b = setup["base"] / "det", runs["new"]
    r = killer(setup, 0, a, NEW_END)
    assert r.returncode == 0, r.stderr
    fa, fb = files_of(a), files_of(b)
    assert fa.keys() == fb.keys()
    for rel in sorted(fa.keys() - VOLATILE_FILES):
        assert fa[rel] == fb[rel], f"{rel} differs between two runs on the same inputs"
    ja, jb = (
        json.loads((r / "reports/majors_alts/signals_today.json").read_text()) for r in (a, b)
    )
    ja.pop("generated_at"), jb.pop("generated_at")
    assert ja == jb
    ma, mb = (
        json.loads((r / "artifacts/majors_alts/run_manifest.json").read_text()) for r in (a, b)
    )
    assert _strip_volatile(ma) == _strip_volatile(mb)
    assert ma["run_id"] == mb["run_id"]
    assert {k: v for k, v in ma["files"].items() if k not in VOLATILE_FILES} == {
        k: v for k, v in mb["files"].items() if k not in VOLATILE_FILES
    }


def test_an_unwritable_output_root_is_exit_2(tmp_path: Path) -> None:
    from majors_alts_monitor.errors import OutputLocationError

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputLocationError, match="cannot create the lock file"):
        with output_lock(blocker / "root", wait_s=0):
            pass
    with pytest.raises(OutputLocationError, match="cannot open the lock file"):
        lock_dir = tmp_path / "linked" / "reports"
        lock_dir.mkdir(parents=True)
        (lock_dir / ".majors_alts.lock").symlink_to(blocker)  # never followed elsewhere
        with output_lock(tmp_path / "linked", wait_s=0):
            pass
