"""Publication's parts, one by one: what a reader sees while sets are switched, ``signals``
beside a run, files that accumulate, an earlier version's roots and lakes, ``verify``, the
lake a reader gets from the importers, paths checked before writing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import polars as pl
import pytest

from majors_alts_monitor import cli
from majors_alts_monitor.errors import OutputLocationError, PublishError
from majors_alts_monitor.lake.data_io import LakeReader, lake_span
from majors_alts_monitor.lake.importers.common import SCHEMAS
from majors_alts_monitor.lake.tables import _Report
from majors_alts_monitor.publish import accumulate
from majors_alts_monitor.publish.layout import LakeOut, OutputRoot, writing_lake, writing_outputs
from majors_alts_monitor.publish.paths import resolve
from majors_alts_monitor.publish.verify import verify

from .conftest import Sets, copy_root


def test_a_reader_never_sees_two_sets(tmp_path: Path) -> None:
    """A writer switches 150 sets of two files while a reader reads both through the
    documented folder, resolved once per read (as docs/publication.md says to): every read pair
    is one set's."""
    root = tmp_path / "out"
    with writing_outputs(root) as out:
        out.publish_run({"reports/a.txt": b"0", "artifacts/b.txt": b"0"}, command="t")
    stop = threading.Event()
    mixed: list[tuple[str, str]] = []
    reads = [0]

    def reader() -> None:
        while not stop.is_set():
            here = Path(os.path.realpath(root / "reports/majors_alts")).parent
            try:
                a = (here / "reports/a.txt").read_text()
                b = (here / "artifacts/b.txt").read_text()
            except FileNotFoundError:
                continue  # a set two switches old, pruned meanwhile: read again
            reads[0] += 1
            if a != b:
                mixed.append((a, b))

    t = threading.Thread(target=reader)
    t.start()
    try:
        with writing_outputs(root) as out:
            for i in range(1, 150):
                v = str(i).encode()
                out.publish_run({"reports/a.txt": v, "artifacts/b.txt": v}, command="t")
    finally:
        stop.set()
        t.join()
    assert not mixed and reads[0] > 0
    assert (root / "artifacts/majors_alts/b.txt").read_text() == "149"


def test_signals_replaces_its_file_and_carries_the_runs_untouched(
    sets: Sets, fast_tmp: Path
) -> None:
    root = copy_root(sets.root_old, fast_tmp / "signals")
    rep = root / "reports/majors_alts"
    before = {p.name: os.stat(p).st_ino for p in rep.iterdir() if p.is_file()}
    with writing_outputs(root) as out:
        out.publish_run({"reports/signals_today.json": b"{}\n"}, command="signals", carry=True)
    after = {p.name: os.stat(p).st_ino for p in rep.iterdir() if p.is_file()}
    assert after.keys() == before.keys()
    assert {k for k in after if after[k] != before[k]} == {"signals_today.json"}
    assert (rep / "sweep/sweep_results.parquet").is_file()  # the sweep's set still seen
    v = verify(root)
    assert not v.problems and any("every file it lists is its own" in x for x in v.ok)


def test_files_that_accumulate_survive_every_later_set(tmp_path: Path) -> None:
    """The primitive the morning instrument (issue 21) writes its ledger with."""
    root = tmp_path / "out"
    with writing_outputs(root) as out:
        out.publish_run({"reports/kpis.json": b"1"}, command="run")
        ledger = out.keep_dir("run", "reports/journal")
        accumulate.append_record(ledger, "2024-01-01.json", b'{"day": 1}\n')
        with pytest.raises(PublishError, match="never replaced"):
            accumulate.append_record(ledger, "2024-01-01.json", b'{"day": 2}\n')
        accumulate.append_line(ledger / "signals.jsonl", {"asof": "2024-01-01"})
        out.publish_run({"reports/kpis.json": b"2"}, command="run")  # a later run
        out.publish_run({"reports/kpis.json": b"3"}, command="run")
    seen = root / "reports/majors_alts/journal"
    assert (seen / "2024-01-01.json").read_text() == '{"day": 1}\n'
    # a crash cut the last line: the next append removes it, readers never see it
    with open(seen / "signals.jsonl", "ab") as fh:
        fh.write(b'{"asof": "2024-01-0')
    assert accumulate.read_lines(seen / "signals.jsonl") == [{"asof": "2024-01-01"}]
    accumulate.append_line(seen / "signals.jsonl", {"asof": "2024-01-02"})
    assert [r["asof"] for r in accumulate.read_lines(seen / "signals.jsonl")] == [
        "2024-01-01",
        "2024-01-02",
    ]
    assert not verify(root).problems


def test_an_earlier_versions_root_is_converted_with_the_same_bytes(tmp_path: Path) -> None:
    """Real folders at the documented paths, a journal an earlier version left half rolled:
    the journal is finished, the files become the first generation (hard links, same bytes)."""
    root = tmp_path / "old"
    rep, art = root / "reports/majors_alts", root / "artifacts/majors_alts"
    for d in (rep, art, rep / "sweep", art / "sweep"):
        d.mkdir(parents=True, exist_ok=True)
    (rep / "kpis.json").write_text("old")
    (rep / ".kpis.json.tmp-1").write_text("new")  # the half-done commit's pending rename
    (root / ".majors_alts_commit.json").write_text(
        json.dumps({"renames": [[str(rep / ".kpis.json.tmp-1"), str(rep / "kpis.json")]]})
    )
    (art / "run_manifest.json").write_text("{}")
    (rep / "sweep/sweep_results.parquet").write_bytes(b"sweep")
    with writing_outputs(root) as out:
        assert out.run.current() is not None and out.sweep.current() is not None
    assert (root / "reports/majors_alts").is_symlink() and (
        root / "artifacts/majors_alts"
    ).is_symlink()
    assert (rep / "kpis.json").read_text() == "new"  # rolled forward, then converted
    assert (rep / "sweep/sweep_results.parquet").read_bytes() == b"sweep"
    assert not verify(root).problems


def test_a_root_copied_with_links_followed_is_adopted(sets: Sets, fast_tmp: Path) -> None:
    """``cp -r`` of a root makes its ``current`` and ``previous`` links folders (and the
    documented folders too): the next writer adopts them and publishes as usual."""
    root = fast_tmp / "cp-r"
    shutil.copytree(sets.root_old, root)  # links followed
    assert not (root / "reports/majors_alts").is_symlink()
    with writing_outputs(root) as out:
        out.publish_run(sets.run_new, command="run")
    assert (root / "reports/majors_alts").is_symlink() and not verify(root).problems


def test_an_importers_lake_reads_like_any_lake_and_keeps_its_fingerprint(
    sets: Sets, fast_tmp: Path, capsys: pytest.CaptureFixture
) -> None:
    lake = copy_root(sets.lake_old, fast_tmp / "reader")
    reader = LakeReader(lake)
    got = reader.read_table("fact_price", None, None, set(), _Report())
    assert got is not None and got[0].kind == "parquet_file" and got[1].height > 0
    assert lake_span(reader)[0] is not None
    fp = reader.fingerprint()
    # publishing only fact_volume carries fact_price as it is: the same file, the same mtime
    with writing_lake(lake, SCHEMAS) as lk:
        lk.publish({"fact_volume": sets.tables_new["fact_volume"]}, {})
    fp2 = LakeReader(lake).fingerprint()
    assert fp2["tables"]["fact_price"] == fp["tables"]["fact_price"]  # type: ignore[index]
    assert fp2["tables"]["fact_volume"] != fp["tables"]["fact_volume"]  # type: ignore[index]
    assert cli.main(["check-lake", str(lake)]) == 2  # no caps: but nothing hidden is listed
    out = capsys.readouterr().out
    assert "not read by the monitor" not in out and "written by `majors-alts import`" in out


def test_an_earlier_versions_lake_is_converted(sets: Sets, fast_tmp: Path) -> None:
    lake = fast_tmp / "old-lake"
    lake.mkdir()
    for t, b in sets.tables_new.items():
        (lake / f"{t}.parquet").write_bytes(b)
    (lake / "notes.txt").write_text("mine")
    want = {t: pl.read_parquet(lake / f"{t}.parquet") for t in sets.tables_new}
    with writing_lake(lake, SCHEMAS) as lk:
        assert lk.store.current() is not None
    for t, df in want.items():
        assert (lake / f"{t}.parquet").is_symlink()
        assert pl.read_parquet(lake / f"{t}.parquet").equals(df)
    assert (lake / "notes.txt").read_text() == "mine" and not verify(lake).problems


def test_verify_names_what_changed_after_publication(sets: Sets, fast_tmp: Path) -> None:
    root = copy_root(sets.root_old, fast_tmp / "verify")
    g = OutputRoot(root).run.current()
    assert g is not None
    kp = g / "reports/kpis.json"
    data = kp.read_bytes()
    kp.unlink()  # (hard-linked with the template: never written in place)
    kp.write_bytes(data.replace(b"{", b"{ ", 1))
    (g / "reports/stray.csv").write_text("x")
    probs = verify(root).problems
    assert any("reports/kpis.json is not the file" in p for p in probs)
    assert any("stray.csv" in p and "not in its record" in p for p in probs)
    assert any("run manifest: reports/majors_alts/kpis.json" in p for p in probs)
    r = subprocess.run(
        [sys.executable, "-m", "majors_alts_monitor", "verify", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "PROBLEM" in r.stdout
    lake = copy_root(sets.lake_old, fast_tmp / "verify-lake")
    cur = LakeOut(lake).store.current()
    assert cur is not None
    (cur / "fact_price.parquet").unlink()
    assert any("fact_price.parquet is missing" in p for p in verify(lake).problems)


def test_paths_are_resolved_before_anything_is_written(tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(OutputLocationError, match="cannot be resolved"):
        resolve(loop / "x", "--output-root")
    lake = tmp_path / "lake"
    lake.mkdir()
    (tmp_path / "out/reports").mkdir(parents=True)
    (tmp_path / "out/reports/majors_alts").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutputLocationError, match="did not make"):
        with writing_outputs(tmp_path / "out", lakes=[lake]):
            pass
    assert not (tmp_path / "out/reports/.majors_alts.lock").exists()  # refused before the lock
    shutil.rmtree(tmp_path / "out")
