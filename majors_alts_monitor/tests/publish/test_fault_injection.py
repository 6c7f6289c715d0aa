"""Faults at every step of publication, for the writers (``run``, ``signals``, ``sweep``,
``import`` and ``update``: an importer's set holds its tables and ``importer_manifest.json``).

At the commit layer, on outputs rendered once (``conftest.sets``): the k-th rename, fsync,
write, symlink, hard link, mkdir and removal of a publication fails with ENOSPC or EIO, or a
Ctrl-C (KeyboardInterrupt) arrives there, for every k. After each:

- ``verify`` passes: readers see one complete set, the old or the new, never a mixture;
- the error says which: "nothing was published" (the old set) or "is published" (the new);
- what the command records as published (its interrupted message) is the truth;
- the next writer succeeds, and leaves only the current and the previous generation.

Then a real process is killed (SIGKILL) at a sample of steps: readers see the old or the new set
right after the kill, and the next writer succeeds. A few cases kill the real commands.

``update``'s publication is ``common.write_tables`` with the arguments the real
``update binance-archive`` passed it (``conftest.sets``): under the lake's lock, the merge into
the lake as it is, the tables and the manifest switched in together. The real command is
faulted and killed in its publication in ``test_update_publication.py``.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from majors_alts_monitor import cli
from majors_alts_monitor.errors import PublishError
from majors_alts_monitor.lake.importers.common import SCHEMAS, write_tables
from majors_alts_monitor.lake.importers.manifest import MANIFEST
from majors_alts_monitor.publish import fsops, generations
from majors_alts_monitor.publish.layout import LakeOut, OutputRoot, writing_lake, writing_outputs
from majors_alts_monitor.publish.verify import verify

from .conftest import Sets, copy_root, files_of_store

KINDS = ("write", "fsync", "rename", "symlink", "link", "mkdir", "remove")
FAULTS = (errno.ENOSPC, errno.EIO, "ctrl-c")


class Inject:
    """A hook that fails the k-th operation of ``kind`` (``kind=None``: any operation)."""

    def __init__(self, kind: str | None, k: int, fault: int | str) -> None:
        self.kind, self.k, self.fault, self.n = kind, k, fault, 0
        self.counts: dict[str, int] = {}

    def __call__(self, op: str, path: str) -> None:
        self.counts[op] = self.counts.get(op, 0) + 1
        if self.kind is not None and op != self.kind:
            return
        self.n += 1
        if self.n == self.k:
            if self.fault == "ctrl-c":
                raise KeyboardInterrupt
            raise OSError(self.fault, os.strerror(self.fault), path)  # type: ignore[arg-type]


# ---- the three writers, at the commit layer ---------------------------------------------------
def publish_run(root: Path, s: Sets) -> None:
    with writing_outputs(root, lakes=[s.lake], command="run") as out:
        out.publish_run(s.run_new, command="run")


def publish_sweep(root: Path, s: Sets) -> None:
    with writing_outputs(root, lakes=[s.lake], command="sweep") as out:
        out.publish_sweep(s.sweep_new)


def publish_import(lake: Path, s: Sets) -> None:
    with writing_lake(lake, SCHEMAS, files=(MANIFEST,), command="import") as lk:
        lk.publish(s.tables_new, {"imports": [{"source": "test"}]}, files=s.lake_files_new)


def publish_update(lake: Path, s: Sets) -> None:
    """What ``update binance-archive`` publishes (its ``write_tables`` call, replayed)."""
    args, kwargs = s.upd_call
    write_tables(lake, *args, **kwargs)


SIGNAL = b'{"asof": "2021-08-31", "regime": "BALANCED"}\n'


def publish_signals(root: Path, s: Sets) -> None:
    """``signals``' generation alone: its file replaced, every file of the run carried over
    (hard links). Every write of the real ``signals`` (its record, the ledger) is faulted in
    ``test_signals_faults.py``."""
    with writing_outputs(root, lakes=[s.lake], command="signals") as out:
        out.publish_run({"reports/signals_today.json": SIGNAL}, command="signals", carry=True)


def publish_one_table(lake: Path, s: Sets) -> None:
    """An import that changes one table: the other is carried over (a hard link)."""
    with writing_lake(lake, SCHEMAS, files=(MANIFEST,), command="import") as lk:
        lk.publish({"fact_volume": s.tables_new["fact_volume"]}, {})


WRITERS: dict[str, tuple[Callable[[Path, Sets], None], Callable[[Sets], Path | None]]] = {
    "run": (publish_run, lambda s: s.root_old),
    "run-first": (publish_run, lambda s: None),  # into an empty root
    "signals": (publish_signals, lambda s: s.root_old),
    "sweep": (publish_sweep, lambda s: s.root_old),
    "import": (publish_import, lambda s: s.lake_old),
    "import-first": (publish_import, lambda s: None),
    "import-one-table": (publish_one_table, lambda s: s.lake_old),
    "update": (publish_update, lambda s: s.upd_old),
}


def visible(writer: str, where: Path) -> dict[str, bytes] | None:
    """The set readers see now (None: none yet)."""
    if writer.startswith(("import", "update")):
        store = LakeOut(where).store
    elif writer == "sweep":
        store = OutputRoot(where).sweep
    else:
        store = OutputRoot(where).run
    return files_of_store(store) if store.current() is not None else None


def expected(writer: str, s: Sets) -> tuple[dict[str, bytes] | None, dict[str, bytes]]:
    old_root = WRITERS[writer][1](s)
    old = None if old_root is None else visible(writer, old_root)
    if writer == "import-one-table":
        assert old is not None
        new = {**old, "fact_volume.parquet": s.tables_new["fact_volume"]}
    elif writer.startswith("import"):
        new = {f"{t}.parquet": b for t, b in s.tables_new.items()} | s.lake_files_new
    elif writer == "update":
        new = s.upd_new
    elif writer == "sweep":
        new = s.sweep_new
    elif writer == "signals":
        assert old is not None
        new = {**old, "reports/signals_today.json": SIGNAL}
    else:
        new = s.run_new
    return old, new


def fresh(writer: str, s: Sets, case: Path) -> Path:
    src = WRITERS[writer][1](s)
    return copy_root(src, case) if src is not None else case


def counts(writer: str, s: Sets, case: Path) -> dict[str, int]:
    """How many operations of each kind one publication makes."""
    where = fresh(writer, s, case)
    probe = Inject(None, 0, errno.EIO)
    with fsops.hooked(probe):
        WRITERS[writer][0](where, s)
    return probe.counts


def check_after(writer: str, s: Sets, where: Path, message: str, published: bool) -> None:
    old, new = expected(writer, s)
    now = visible(writer, where)
    if now is not None:  # (a first publication that failed: nothing to verify yet)
        rep = verify(where)
        assert not rep.problems, rep.problems
    assert now in (old, new), "readers see a mixture"
    if "nothing was published" in message:
        assert now == old, message
    if "is published" in message:
        assert now == new, message
    assert published == (now == new and now != old)  # what the command will say is the truth
    WRITERS[writer][0](where, s)  # the next writer succeeds
    assert not verify(where).problems and visible(writer, where) == new
    store = Path(where)
    gens = (
        LakeOut(store).store.gens
        if writer.startswith(("import", "update"))
        else (OutputRoot(store).sweep.gens if writer == "sweep" else OutputRoot(store).run.gens)
    )
    assert len(list(gens.iterdir())) <= 2, sorted(p.name for p in gens.iterdir())


@pytest.mark.parametrize("writer", list(WRITERS))
def test_every_fault_at_every_step_leaves_the_old_or_the_new_set(
    writer: str, sets: Sets, fast_tmp: Path
) -> None:
    base = fast_tmp / f"faults-{writer}"
    n = counts(writer, sets, base / "probe")
    cases = [(kind, k, f) for kind in KINDS for k in range(1, n.get(kind, 0) + 1) for f in FAULTS]
    assert len(cases) > 30, n
    for i, (kind, k, fault) in enumerate(cases):
        where = fresh(writer, sets, base / f"c{i}")
        generations.reset()
        message = ""
        try:
            with fsops.hooked(Inject(kind, k, fault)):
                WRITERS[writer][0](where, sets)
        except PublishError as err:
            message = str(err)
            assert fault != "ctrl-c"
        except KeyboardInterrupt:
            assert fault == "ctrl-c"
        published = bool(generations.published)
        try:
            check_after(writer, sets, where, message, published)
        except AssertionError as err:
            raise AssertionError(f"{writer}: fault {fault} at {kind} #{k}: {err}") from None


# ---- SIGKILL of a real process at a sample of steps ------------------------------------------
# light: the publication layer imports nothing heavier than the standard library
KILLER = """
import os, pickle, signal, sys
from pathlib import Path
from majors_alts_monitor.publish import fsops
from majors_alts_monitor.publish.layout import writing_lake, writing_outputs
writer, where, payload, k = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
p = pickle.loads(open(payload, "rb").read())
n = 0
def hook(op, path):
    global n
    n += 1
    if n == k:
        os.kill(os.getpid(), signal.SIGKILL)
fsops.hook = hook
if writer == "update":  # (this one loads polars: the update's merge runs under the lock)
    from majors_alts_monitor.lake.importers.common import write_tables
    args, kwargs = p["upd_call"]
    write_tables(where, *args, **kwargs)
elif writer.startswith("import"):
    with writing_lake(where, p["names"], files=p["files"]) as lk:
        lk.publish(p["tables_new"], {"imports": [{"source": "test"}]}, files=p["lake_files_new"])
else:
    with writing_outputs(where, lakes=[p["lake"]]) as out:
        if writer == "sweep":
            out.publish_sweep(p["sweep_new"])
        else:
            out.publish_run(p["run_new"], command="run")
print("STEPS", n)
"""


@pytest.mark.parametrize("writer", ["run", "sweep", "import", "import-first", "update"])
def test_sigkill_at_a_sample_of_steps(writer: str, sets: Sets, fast_tmp: Path) -> None:
    base = fast_tmp / f"kill-{writer}"
    total = sum(counts(writer, sets, base / "probe").values())
    payload = base / "sets.pickle"
    p = {
        "lake": sets.lake,
        "names": list(SCHEMAS),
        "files": [MANIFEST],
        "lake_files_new": sets.lake_files_new,
        "upd_call": sets.upd_call,
        "run_new": sets.run_new,
        "sweep_new": sets.sweep_new,
        "tables_new": sets.tables_new,
    }
    payload.write_bytes(pickle.dumps(p))
    points = sorted({1, 2, *range(3, total, max(1, total // 8)), total - 1})
    for k in points:
        where = fresh(writer, sets, base / f"k{k}")
        r = subprocess.run(
            [sys.executable, "-c", KILLER, writer, str(where), str(payload), str(k)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == -signal.SIGKILL, (k, r.stdout, r.stderr[-2000:])
        # right after the kill: one whole set, old or new
        rep = verify(where) if visible(writer, where) is not None else None
        assert rep is None or not rep.problems, (k, rep.problems)
        old, new = expected(writer, sets)
        assert visible(writer, where) in (old, new), k
        check_after(writer, sets, where, "", visible(writer, where) == new and new != old)


def test_sigkill_of_the_real_import_and_run_commands(sets: Sets, fast_tmp: Path) -> None:
    """The commands themselves, killed in their publication: the next one succeeds."""
    wrapper = (
        "import os, signal, sys\n"
        "from majors_alts_monitor.publish import fsops\n"
        "from majors_alts_monitor import cli\n"
        "n, k = 0, int(sys.argv[1])\n"
        "def hook(op, path):\n"
        "    global n\n"
        "    n += 1\n"
        "    if n == k:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "fsops.hook = hook\n"
        "sys.exit(cli.main(sys.argv[2:]))\n"
    )
    for k in (3, 9, 14):
        lake = copy_root(sets.lake_old, fast_tmp / f"cli-import-{k}")
        argv = ["import", "binance-klines", str(sets.klines / "new"), "--out", str(lake)]
        r = subprocess.run(
            [sys.executable, "-c", wrapper, str(k), *argv], capture_output=True, timeout=300
        )
        assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
        assert not verify(lake).problems
        assert cli.main(argv) == 0
        assert not verify(lake).problems
    cfg = sets.base / "small.yaml"
    root = copy_root(sets.root_old, fast_tmp / "cli-run")
    argv = ["run", "--lake", str(sets.lake), "--config", str(cfg), "--output-root", str(root)]
    r = subprocess.run(
        [sys.executable, "-c", wrapper, "12", *argv, "--quiet"], capture_output=True, timeout=300
    )
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    assert not verify(root).problems
    kpis = json.loads((root / "reports/majors_alts/kpis.json").read_text())
    old = json.loads((sets.root_old / "reports/majors_alts/kpis.json").read_text())
    assert kpis["run_id"] == old["run_id"]  # killed before the switch: the old run, whole


@pytest.mark.parametrize("when", ["before the switch", "after the switch"])
def test_ctrl_c_in_the_commit_says_exactly_what_readers_see(
    sets: Sets, fast_tmp: Path, when: str, capsys: pytest.CaptureFixture
) -> None:
    """A Ctrl-C in a real ``run``'s publication: exit 130, and the message says "untouched"
    only when the previous set is what readers see."""
    root = copy_root(sets.root_old, fast_tmp / f"ctrl-c-{when.split()[0]}")
    cur = root / "reports/.majors_alts/run/current"

    def hook(op: str, path: str) -> None:
        if when == "before the switch" and op == "rename" and path == str(cur):
            raise KeyboardInterrupt
        if when == "after the switch" and op == "fsync" and path == str(cur.parent):
            raise KeyboardInterrupt

    cfg = sets.base / "small.yaml"
    argv = ["run", "--lake", str(sets.lake), "--config", str(cfg), "--output-root", str(root)]
    old_id = json.loads((root / "reports/majors_alts/kpis.json").read_text())["run_id"]
    with fsops.hooked(hook):
        assert cli.main([*argv, "--quiet"]) == 130
    err = capsys.readouterr().err
    now_id = json.loads((root / "reports/majors_alts/kpis.json").read_text())["run_id"]
    assert not verify(root).problems and "Traceback" not in err
    if when == "before the switch":
        assert now_id == old_id and err.strip() == cli.INTERRUPTED
    else:
        assert now_id != old_id
        assert "untouched" not in err and "already written under" in err and "generation" in err
