"""``update`` writes through the importers' lock and publication (issue 20 item 5, on issue 17's
generations): the real ``update binance-archive`` against a local archive server,

- faulted (ENOSPC, EIO or a Ctrl-C, in turn) at every step of its publication: the exit code and
  the message say what readers see, ``verify`` passes, readers see the old lake or the new one
  (tables and ``importer_manifest.json`` of one publication), and a rerun resumes to the
  uninterrupted result;
- killed (SIGKILL) at a sample of those steps: the same, right after the kill;
- racing an ``import`` into the same lake, in either order: the second waits for the lake's lock,
  then merges into what the first published: no row and no manifest entry is lost, and both
  orders give the same lake;
- run on a lake written by an earlier version (tables and the manifest as plain files): the
  lake is converted (both linked into one generation) and topped up.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from majors_alts_monitor import cli
from majors_alts_monitor.lake.importers.common import SCHEMAS
from majors_alts_monitor.lake.importers.manifest import MANIFEST
from majors_alts_monitor.publish import fsops, generations
from majors_alts_monitor.publish.layout import LakeOut, writing_lake
from majors_alts_monitor.publish.lock import LOCK_WAIT_ENV
from majors_alts_monitor.publish.verify import verify
from majors_alts_monitor.tests.lake.archive_server import ServerState, serve
from majors_alts_monitor.tests.lake.update_fixtures import market

from .conftest import Sets, copy_root, files_of_store, update_argv
from .test_fault_injection import FAULTS, Inject


def lake_files(lake: Path) -> dict[str, bytes]:
    return files_of_store(LakeOut(lake).store)


def check_readers_see_one_lake(lake: Path, old: dict[str, bytes], new: dict[str, bytes]) -> bool:
    """``verify`` passes and the lake (through its links) is the old set or the new one; True
    when it is the new one."""
    assert not verify(lake).problems, verify(lake).problems
    now = lake_files(lake)
    assert now in (old, new), "readers see a mixture"
    for rel, data in now.items():  # what a reader opens at LAKE/NAME is the set's file
        assert (lake / rel).read_bytes() == data, rel
    return now == new and now != old


ONE = ("--symbols", "BTCUSDT")  # its klines, funding and open interest: every table, smaller


def test_update_faulted_at_every_step_of_its_publication_then_resumes(
    sets: Sets, fast_tmp: Path, capsys: pytest.CaptureFixture
) -> None:
    base = fast_tmp / "update-faults"
    cache = base / "cache"
    old = lake_files(sets.upd_old)
    with serve(ServerState(sets.archive)) as url:
        probe = Inject(None, 0, errno.EIO)
        lake = copy_root(sets.upd_old, base / "probe")
        with fsops.hooked(probe):
            assert cli.main(update_argv(lake, url, cache, *ONE)) == 0
        new = lake_files(lake)  # the uninterrupted update's lake
        grown = ("fact_price.parquet", "fact_funding.parquet", "fact_open_interest.parquet")
        assert set(new) == set(old) and all(new[r] != old[r] for r in (*grown, MANIFEST))
        total = sum(probe.counts.values())
        assert total > 20, probe.counts
        capsys.readouterr()
        for k in range(1, total + 1):
            fault = FAULTS[k % len(FAULTS)]
            lake = copy_root(sets.upd_old, base / f"k{k}")
            generations.reset()
            with fsops.hooked(Inject(None, k, fault)):
                code = cli.main(update_argv(lake, url, cache, *ONE))
            err = capsys.readouterr().err
            where = f"fault {fault} at operation #{k}: {err}"
            assert "Traceback" not in err, where
            is_new = check_readers_see_one_lake(lake, old, new)
            assert is_new == bool(generations.published), where  # what it says is the truth
            if fault == "ctrl-c":
                assert code == 130, where
                assert ("untouched" in err) == (not is_new), where
            else:  # exit 0: a failure after the switch that publication only warns about
                assert code == 2 or (code == 0 and is_new and "WARNING" in err), where
                if "nothing was published" in err:
                    assert not is_new, where
                if "is published" in err:
                    assert is_new, where
            # a rerun resumes to the uninterrupted update's lake (publishing nothing when the
            # faulted one got its set in); a folder the faulted one left is the next writer's to
            # remove: two generations at most after it
            assert cli.main(update_argv(lake, url, cache, *ONE)) == 0, capsys.readouterr().err
            assert lake_files(lake) == new and not verify(lake).problems
            with writing_lake(lake, SCHEMAS, files=(MANIFEST,)):
                pass
            assert len(list(LakeOut(lake).store.gens.iterdir())) <= 2
            assert lake_files(lake) == new and not verify(lake).problems
            shutil.rmtree(lake)


KILL_AT = """
import os, signal, sys
from majors_alts_monitor.publish import fsops
from majors_alts_monitor import cli
n, k = 0, int(sys.argv[1])
def hook(op, path):
    global n
    n += 1
    if n == k:
        os.kill(os.getpid(), signal.SIGKILL)
fsops.hook = hook
sys.exit(cli.main(sys.argv[2:]))
"""


def test_update_killed_in_its_publication_leaves_one_lake_and_a_rerun_resumes(
    sets: Sets, fast_tmp: Path
) -> None:
    base = fast_tmp / "update-kill"
    cache = base / "cache"
    old = lake_files(sets.upd_old)
    with serve(ServerState(sets.archive)) as url:
        probe = Inject(None, 0, errno.EIO)
        lake = copy_root(sets.upd_old, base / "probe")
        with fsops.hooked(probe):
            assert cli.main(update_argv(lake, url, cache, *ONE)) == 0
        new = lake_files(lake)
        # (the last operation, removing an old generation, is skipped in another process while
        # the process that published it, this one, lives: a kill point short of it)
        total = sum(probe.counts.values())
        seen = set()
        for k in sorted({1, total // 3, 2 * total // 3, total - 1}):
            lake = copy_root(sets.upd_old, base / f"k{k}")
            argv = update_argv(lake, url, cache, *ONE)
            r = subprocess.run(
                [sys.executable, "-c", KILL_AT, str(k), *argv], capture_output=True, timeout=300
            )
            assert r.returncode == -signal.SIGKILL, (k, r.stderr[-2000:])
            seen.add(check_readers_see_one_lake(lake, old, new))
            assert cli.main(argv) == 0  # the rerun resumes
            assert lake_files(lake) == new and not verify(lake).problems
        assert seen == {False, True}  # killed before the switch, and after it


# ---- an update and an import racing into one lake -----------------------------------------------
HOLD = """
import os, sys, time
from pathlib import Path
from majors_alts_monitor.publish import fsops
from majors_alts_monitor import cli
marker, release = Path(sys.argv[1]), Path(sys.argv[2])
held = False
def hook(op, path):  # the first step of the publication: the lake's lock is held
    global held
    if not held:
        held = True
        marker.write_text(str(os.getpid()))
        deadline = time.monotonic() + 120
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
if sys.argv[1] != "-":
    fsops.hook = hook
sys.exit(cli.main(sys.argv[3:]))
"""


def write_caps(folder: Path) -> Path:
    """CoinGecko exports of the archive's market (the row snapped at 00:00 of d+1 is day d)."""
    folder.mkdir(parents=True)
    t = market().tables
    df = t["fact_price"].join(t["fact_marketcap"], on=["asset_id", "date"])
    df = df.join(t["fact_volume"], on=["asset_id", "date"])
    for asset in ("BTC", "ETH"):
        lines = ["snapped_at,price,market_cap,total_volume"]
        rows = df.filter(pl.col("asset_id") == asset).sort("date")
        for d, c, cap, v in rows.select("date", "close", "marketcap", "volume").iter_rows():
            lines.append(f"{d + timedelta(days=1)} 00:00:00 UTC,{c!r},{cap!r},{v!r}")
        (folder / f"{asset.lower()}-usd-max.csv").write_text("\n".join(lines) + "\n")
    return folder


def _start(argv: list[str], marker: str, release: str) -> subprocess.Popen:
    """A command in its own process (the lock is per process); with a ``marker``, it holds the
    lake's lock at its publication's first step (saying so in ``marker``) until ``release``
    exists."""
    env = {**os.environ, LOCK_WAIT_ENV: "120"}
    return subprocess.Popen(
        [sys.executable, "-c", HOLD, marker, release, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.parametrize("first", ["update", "import"])
def test_an_update_and_an_import_racing_into_one_lake_lose_nothing(
    sets: Sets, fast_tmp: Path, first: str
) -> None:
    base = fast_tmp / f"race-{first}"
    caps = write_caps(base / "caps")
    results = {}
    with serve(ServerState(sets.archive)) as url:
        for order in (first, "alone"):
            lake = copy_root(sets.upd_old, base / f"lake-{order}")
            update = update_argv(lake, url, base / "cache")
            imp = [
                "import",
                "coingecko",
                str(caps),
                "--out",
                str(lake),
                "--tables",
                "fact_marketcap",
            ]
            if order == "alone":  # the same two commands one after the other: the reference
                assert cli.main(update) == 0 and cli.main(imp) == 0
                results[order] = lake_files(lake)
                continue
            marker, release = base / "holding", base / "release"
            a_argv, b_argv = (update, imp) if order == "update" else (imp, update)
            a = _start(a_argv, str(marker), str(release))
            deadline = time.monotonic() + 120
            while not marker.exists():
                assert a.poll() is None, a.communicate()
                assert time.monotonic() < deadline, "the first writer never published"
                time.sleep(0.02)
            b = _start(b_argv, "-", "-")
            assert b.stderr is not None
            waited = ""
            for line in b.stderr:  # the second writer says it waits for the lock...
                waited += line
                if "is in use by" in line:
                    break
            release.touch()  # ...then the first one publishes and lets it in
            a_out, a_err = a.communicate(timeout=300)
            b_out, b_err = b.communicate(timeout=300)
            assert a.returncode == 0, a_err
            assert b.returncode == 0, waited + b_err
            assert "is in use by" in waited and "waiting" in waited
            assert not verify(lake).problems
            results[order] = lake_files(lake)
    got, ref = results[first], results["alone"]
    assert got == ref, "the race lost or changed something"
    # both writers' rows are there: the update's tables as it alone gives them, and the caps
    for rel, data in sets.upd_new.items():
        if rel != MANIFEST:
            assert got[rel] == data, rel
    cap = pl.read_parquet(base / f"lake-{first}" / "fact_marketcap.parquet")
    assert set(cap["asset_id"]) == {"BTC", "ETH"} and cap.height > 200
    sources = json.loads(got[MANIFEST])["sources"]
    assert set(sources["coingecko"]) == {"BTC", "ETH"}
    assert set(sources) >= {"binance_spot_klines_1d", "binance_um_funding", "binance_um_metrics"}


def test_an_earlier_versions_lake_with_its_manifest_is_converted_then_topped_up(
    sets: Sets, fast_tmp: Path
) -> None:
    """A lake issue 20's first version wrote (its tables and ``importer_manifest.json`` as plain
    files beside each other, no generations): the first update converts it (tables and manifest
    linked into one generation, the same bytes) and tops it up as it would the new layout."""
    base = fast_tmp / "earlier"
    lake = base / "lake"
    lake.mkdir(parents=True)
    for rel, data in lake_files(sets.upd_old).items():
        (lake / rel).write_bytes(data)
    with serve(ServerState(sets.archive)) as url:
        assert cli.main(update_argv(lake, url, base / "cache")) == 0
    assert (lake / MANIFEST).is_symlink() and (lake / "fact_price.parquet").is_symlink()
    assert lake_files(lake) == sets.upd_new and not verify(lake).problems
