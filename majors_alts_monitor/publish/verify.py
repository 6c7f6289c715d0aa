"""``majors-alts verify ROOT``: is what readers see one complete, untouched set?

For an output root, each published set (the run's, the sweep's) is checked against the record
its writer made (``GENERATION.json``: every file's sha256 and size, every link), and the run's
own manifest (``run_manifest.json``, ``files``) against the files the run wrote; the documented
folders must open the current set. For a lake the importers wrote, the same for its tables,
and every ``NAME.parquet`` must open the current set's file. A root written by an earlier
version (no generations) is checked against its run manifest alone.

The folders that accumulate outside the generations are checked record by record: each file of
``ledger/`` must be a whole ledger record whose name is its decision day and the hash of what it
says (``morning.ledger.problem``), each file of ``signals/`` a call named by its decision day
(``report.signal_files.record_problem``). A temporary file left by a writer killed mid-write
is not a record (readers skip it): it is counted, not a problem.

A lake's set holds its tables and the importer manifest (``importer_manifest.json``, which
``update`` reads): both are checked, and both must open the current set.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .generations import GEN_FILE, Store, sha256_file
from .layout import MOUNTS, STORE_DIR, SUB, LakeOut, OutputRoot


@dataclass
class Report:
    ok: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _check_store(store: Store, rep: Report) -> dict | None:
    gid = store.current_id()
    if gid is None:
        if os.path.lexists(store.home / "current"):
            rep.problems.append(f"{store.name}: {store.home / 'current'} names no generation")
        return None
    g = store.gens / gid
    rec = store.record(gid)
    if rec is None:
        rep.problems.append(f"{store.name}: generation {gid} has no readable {GEN_FILE}")
        return None
    bad = 0
    for rel, meta in rec.get("files", {}).items():
        p = g / rel
        if p.is_symlink() or not p.is_file():
            rep.problems.append(f"{store.name}: {rel} is missing from generation {gid}")
            bad += 1
        elif p.stat().st_size != meta.get("bytes") or sha256_file(p) != meta.get("sha256"):
            rep.problems.append(
                f"{store.name}: {rel} is not the file generation {gid} was published with "
                "(changed after publication)"
            )
            bad += 1
    for rel, target in rec.get("links", {}).items():
        p = g / rel
        try:
            now = os.readlink(p)
        except OSError:
            now = None
        if now != target:
            rep.problems.append(
                f"{store.name}: link {rel} of generation {gid} is missing or changed"
            )
            bad += 1
    listed = set(rec.get("files", {})) | set(rec.get("links", {})) | {GEN_FILE}
    for dirpath, dirs, files in os.walk(g):
        for name in [*files, *dirs]:
            p = Path(dirpath) / name
            rel = p.relative_to(g).as_posix()
            if (p.is_symlink() or p.is_file()) and rel not in listed:
                rep.problems.append(f"{store.name}: {rel} in generation {gid} is not in its record")
                bad += 1
        dirs[:] = [d for d in dirs if not (Path(dirpath) / d).is_symlink()]
    if not bad:
        n = len(rec.get("files", {}))
        rep.ok.append(f"{store.name}: generation {gid} ({rec.get('command')}), {n} files whole")
    return rec


def _check_run_manifest(root: Path, gen: Path | None, rec: dict | None, rep: Report) -> None:
    """The run's manifest against the files the run wrote (a file another command replaced
    since, ``signals_today.json`` by ``signals``, is vouched for by the generation's record)."""
    art = gen / "artifacts" if gen is not None else root / "artifacts" / SUB
    man_path = art / "run_manifest.json"
    if not man_path.is_file():
        return
    try:
        man = json.loads(man_path.read_text())
    except (OSError, ValueError) as err:
        rep.problems.append(f"{man_path}: cannot be read ({err})")
        return
    files = rec.get("files", {}) if rec else {}
    by = (files.get("artifacts/run_manifest.json") or {}).get("command")
    bad = 0
    replaced: list[str] = []
    for rel, meta in (man.get("files") or {}).items():
        parts = Path(rel).parts
        if gen is not None and len(parts) > 2 and parts[1] == SUB:
            inner = Path(parts[0], *parts[2:]).as_posix()
            later = files.get(inner, {}).get("command") if rec is not None else None
            if later not in (by, None):
                replaced.append(f"{rel} (replaced by {later}, whole as its record says)")
                continue  # replaced by a later command, vouched for by the record
            p = gen / inner
        else:
            p = root / rel
        if not p.is_file():
            rep.problems.append(f"run manifest: {rel} is missing")
            bad += 1
        elif sha256_file(p) != meta.get("sha256"):
            rep.problems.append(
                f"run manifest: {rel} is not the version of run {man.get('run_id')}"
            )
            bad += 1
    if not bad and not replaced:
        rep.ok.append(f"run manifest: run {man.get('run_id')}, every file it lists is its own")
    elif not bad:
        rep.ok.append(
            f"run manifest: run {man.get('run_id')}, every file it lists is its own except "
            + "; ".join(replaced)
        )


def _check_records(folder: Path, shown: Path, what: str, check, rep: Report) -> None:
    """Each record file of an accumulating folder (``check(name, bytes)``: what is wrong)."""
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return
    except OSError as err:
        rep.problems.append(f"{shown}: cannot be listed ({err.strerror or err})")
        return
    temps = [n for n in names if n.startswith(".")]
    n_ok = 0
    for n in names:
        if n.startswith("."):
            continue
        p = folder / n
        if p.is_symlink() or not p.is_file():
            rep.problems.append(f"{what}: {shown / n} is not a record file")
            continue
        if not n.endswith(".json"):
            rep.problems.append(f"{what}: {shown / n} is not a record (not NAME.json)")
            continue
        try:
            why = check(n, p.read_bytes())
        except OSError as err:
            why = f"cannot be read ({err.strerror or err})"
        if why is None:
            n_ok += 1
        else:
            rep.problems.append(
                f"{what}: {shown / n}: {why}; readers leave it out. What to do: move it out of "
                f"{shown} (issue its day again with signals --asof DAY if its call is needed)"
            )
    tmp = f", {len(temps)} temporary file(s) of an interrupted writer ignored" if temps else ""
    rep.ok.append(f"{what}: {n_ok} records whole{tmp}")


def _check_kept(out: OutputRoot, rep: Report) -> None:
    from ..morning.ledger import LEDGER_REL
    from ..morning.ledger import problem as ledger_problem
    from ..report.signal_files import RECORDS, record_problem

    keep = out.home / "keep" / "run"

    def ledger_check(name: str, data: bytes) -> str | None:
        return ledger_problem(name, data)[1]

    _check_records(keep / LEDGER_REL, out.reports / "ledger", "ledger", ledger_check, rep)
    _check_records(keep / RECORDS, out.reports / "signals", "signals", record_problem, rep)


def verify_root(root: Path) -> Report:
    """Check an output root (see the module docstring)."""
    rep = Report()
    out = OutputRoot(Path(root))
    if not out.home.is_dir():
        if (out.artifacts / "run_manifest.json").is_file():
            rep.ok.append("an earlier version's layout (no generations): checked its manifest")
            _check_run_manifest(out.root, None, None, rep)
        else:
            rep.problems.append(f"{root}: no published outputs found")
        return rep
    rec = _check_store(out.run, rep)
    _check_store(out.sweep, rep)
    gen = out.run.current()
    if gen is not None:
        _check_run_manifest(out.root, gen, rec, rep)
        for m in MOUNTS:
            p = out.root / m / SUB
            if p.resolve() != (gen / m).resolve():
                rep.problems.append(f"{p} does not open the current run set ({gen.name})")
    if out.sweep.current() is not None and gen is not None:
        if (out.reports / "sweep").resolve() != (out.sweep.current() / "reports").resolve():
            rep.problems.append(f"{out.reports / 'sweep'} does not open the current sweep set")
    _check_kept(out, rep)
    return rep


def verify_lake(lake: Path) -> Report:
    """Check a lake the importers wrote (see the module docstring)."""
    rep = Report()
    out = LakeOut(Path(lake))
    rec = _check_store(out.store, rep)
    if rec is None:
        if not rep.problems:
            rep.problems.append(f"{lake}: no tables published by the importers")
        return rep
    gen = out.store.current()
    assert gen is not None
    for rel in rec.get("files", {}):
        if "/" not in rel:  # every file of a lake set (tables, importer manifest) is linked
            p = out.lake / rel
            if p.resolve() != (gen / rel).resolve():
                rep.problems.append(f"{p} does not open the current set's {rel}")
    return rep


def verify(path: Path) -> Report:
    """An output root or an importer's lake, told apart by what is published there."""
    p = Path(path)
    if (p / STORE_DIR / "lake").is_dir():
        return verify_lake(p)
    return verify_root(p)
