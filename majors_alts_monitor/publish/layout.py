"""Where published sets live, and the documented paths that open them.

An output root (everything under ``reports/``, ``artifacts/`` and ``cache/``, as the output
contract wants; the sets live beside the reports they are)::

    ROOT/reports/.majors_alts.lock              the root's lock (``lock``)
    ROOT/reports/.majors_alts/run/{current,previous,gens/<id>/{reports,artifacts}/...}
    ROOT/reports/.majors_alts/sweep/{current,previous,gens/<id>/{reports,artifacts}/...}
    ROOT/reports/.majors_alts/keep/<store>/<reports|artifacts>/<name>/   files that accumulate
    ROOT/reports/majors_alts   -> .majors_alts/run/current/reports                 (made once)
    ROOT/artifacts/majors_alts -> ../reports/.majors_alts/run/current/artifacts    (made once)

so one rename of ``run/current`` switches both documented folders at once. A run generation
holds ``reports/sweep`` and ``artifacts/sweep`` links to the sweep's current set, and a link per
folder that accumulates (``reports/ledger`` ...) into ``keep/``: a sweep and a run publish
independently, and files that accumulate survive every later generation.

A lake the importers write (``--out``, what readers pass as ``--lake``)::

    LAKE/.majors_alts.lock
    LAKE/.majors_alts/lake/{current,previous,gens/<id>/{NAME.parquet,importer_manifest.json}}
    LAKE/NAME.parquet -> .majors_alts/lake/current/NAME.parquet          (made once per table)
    LAKE/importer_manifest.json -> .majors_alts/lake/current/importer_manifest.json

so one rename of ``lake/current`` switches every table and the importers' own files (``files``
of ``writing_lake``: the importer manifest that ``update`` reads) at once.

Roots and lakes written by earlier versions (real folders and files at those paths) are
converted on the first write: their files are hard-linked into a first generation, and each
folder or file is then replaced by its link in one step, so readers see the same bytes
throughout.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import OutputLocationError, PublishError
from . import fsops
from .generations import Carry, Entry, Link, Store, pid_alive
from .lock import Lock, hold
from .paths import refuse_in_lakes, resolve

log = logging.getLogger("majors_alts_monitor")

STORE_DIR = ".majors_alts"
SUB = "majors_alts"
MOUNTS = ("reports", "artifacts")
LEGACY_JOURNAL = ".majors_alts_commit.json"


def _walk_files(d: Path) -> Iterator[Path]:
    for dirpath, dirs, files in os.walk(d):
        dirs[:] = sorted(x for x in dirs if not x.startswith("."))
        for f in sorted(files):
            if not f.startswith("."):
                yield Path(dirpath) / f


@contextlib.contextmanager
def _guard(what: str, where: Path) -> Iterator[None]:
    """An ``OSError`` in the steps around a commit (links, folders, recovery) becomes a
    ``PublishError`` saying that nothing was published."""
    try:
        yield
    except OSError as err:
        why = f"{err.strerror or err}" + (f": {err.filename}" if err.filename else "")
        raise PublishError(
            f"could not publish {what} at {where} ({why}); nothing was published: readers "
            "still see the previous set. What to do: free space or fix the disk or "
            "permissions, then run the command again"
        ) from None


def _link_in_place(target: str, path: Path) -> None:
    """Make ``path`` a symlink to ``target`` in one step (temporary name, then rename)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    fsops.symlink(target, tmp)
    fsops.rename(tmp, path)


def shown_path(path: Path) -> Path:
    """Where readers see a file of a folder that accumulates: ``ROOT/reports/.majors_alts/keep/
    run/<reports|artifacts>/<name>/...`` is ``ROOT/<reports|artifacts>/majors_alts/<name>/...``
    (any other path is returned as it is)."""
    parts = Path(path).parts
    for i in range(len(parts) - 5):
        if parts[i : i + 4] == ("reports", STORE_DIR, "keep", "run") and parts[i + 4] in MOUNTS:
            return Path(*parts[:i], parts[i + 4], SUB, *parts[i + 5 :])
    return Path(path)


class OutputRoot:
    """An output root held for writing (see the module docstring)."""

    def __init__(self, root: Path, lock: Lock | None = None) -> None:
        self.root = Path(root)
        self.lock = lock
        self.lock_dir = self.root / "reports"
        self.home = self.lock_dir / STORE_DIR
        self.run = Store(self.home / "run", "run outputs")
        self.sweep = Store(self.home / "sweep", "sweep outputs")

    @property
    def reports(self) -> Path:
        return self.root / "reports" / SUB

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts" / SUB

    # ---- paths ----------------------------------------------------------------------------
    def _mount_target(self, m: str) -> str:
        home = resolve(self.home, "--output-root")
        return os.path.relpath(
            home / "run" / "current" / m, resolve(self.root / m, "--output-root")
        )

    def _is_ours(self, m: str) -> bool:
        p = self.root / m / SUB
        try:
            return os.readlink(p) == self._mount_target(m)
        except OSError:
            return False

    def check(self, lakes: Iterable[Path | None] = (), duckdb: Path | None = None) -> None:
        """Refuse a root whose folders (symlinks followed) land inside a lake, and a documented
        folder that is a symlink this tool did not make."""
        targets = [(self.root, "--output-root"), (self.home, "output folder")]
        for sub in ("reports", "artifacts", "cache"):
            targets.append((self.root / sub, "output folder"))
        for m in MOUNTS:
            p = self.root / m / SUB
            targets.append((p, "output folder"))
        refuse_in_lakes(targets, lakes, duckdb)
        for m in MOUNTS:
            p = self.root / m / SUB
            if os.path.lexists(p) and not p.is_symlink() and not p.is_dir():
                raise OutputLocationError(
                    f"output folder {p} is a file. What to do: move it away (or pass another "
                    "--output-root)"
                )
            if p.is_symlink() and not self._is_ours(m):
                raise OutputLocationError(
                    f"output folder {p} is a symlink to {os.readlink(p)} that this tool did not "
                    "make; outputs are published through a link of its own there. What to do: "
                    "remove that symlink (or pass another --output-root)"
                )

    # ---- recovery --------------------------------------------------------------------------
    def recover(self) -> list[str]:
        """Finish what an earlier writer left: convert an old-layout root, remove sets never
        switched in and temporary links of dead processes."""
        for s in (self.run, self.sweep):
            s.adopt_copies()
        done = self._convert_legacy()
        for s in (self.run, self.sweep):
            for g in s.prune():
                done.append(f"removed {s.name} generation {g} (old, or left by a killed writer)")
        for m in MOUNTS:
            folder = self.root / m
            for tmp in folder.glob(f".{SUB}.tmp-*") if folder.is_dir() else ():
                with contextlib.suppress(OSError):
                    fsops.remove(tmp)
        for msg in done:
            log.debug(msg)
        return done

    # ---- publishing ------------------------------------------------------------------------
    def keep_links(self, store: str) -> dict[str, Entry]:
        """Links from a generation of ``store`` to its folders that accumulate (``keep``)."""
        out: dict[str, Entry] = {}
        base = self.home / "keep" / store
        for m in MOUNTS:
            d = base / m
            if d.is_dir():
                for name in sorted(os.listdir(d)):
                    if (d / name).is_dir() and not name.startswith("."):
                        out[f"{m}/{name}"] = Link(f"../../../../keep/{store}/{m}/{name}")
        return out

    def _run_links(self) -> dict[str, Entry]:
        """Links of a run set: the folders that accumulate, and the sweep's set once a sweep
        has begun publishing (the link dangles, "no sweep", until its first set is in)."""
        out = self.keep_links("run")
        if self.sweep.home.is_dir():
            for m in MOUNTS:
                out[f"{m}/sweep"] = Link(f"../../../../sweep/current/{m}")
        return out

    def publish_run(self, files: Mapping[str, bytes], *, command: str, carry: bool = False) -> str:
        """Publish a run set (``files``: path inside the set -> bytes, e.g.
        ``reports/kpis.json``); ``carry`` keeps every other file of the current set (hard
        links: ``signals`` replaces its own file and nothing else)."""
        entries: dict[str, Entry] = dict(files)
        if carry:
            for rel, p in self.run.current_files().items():
                entries.setdefault(rel, Carry(p))
        entries.update(self._run_links())
        with _guard("the run outputs", self.reports):
            self._mount()  # the documented folders' links (they dangle until the first set)
        return self.run.publish(entries, command=command, where=self.reports, lock=self.lock)

    def publish_sweep(self, files: Mapping[str, bytes], *, command: str = "sweep") -> str:
        """Publish a sweep set (``files`` inside it: ``reports/sweep_results.parquet`` ...),
        seen at ``reports/majors_alts/sweep/`` and ``artifacts/majors_alts/sweep/``."""
        entries: dict[str, Entry] = {**files, **self.keep_links("sweep")}
        with _guard("the sweep outputs", self.reports / "sweep"):
            for made in fsops.makedirs(self.sweep.home):
                fsops.fsync_dir(made.parent)
        self._ensure_run_links()  # before: the sweep's first set appears in one rename
        return self.sweep.publish(
            entries, command=command, where=self.reports / "sweep", lock=self.lock
        )

    def keep_dir(self, store: str, rel: str) -> Path:
        """A folder that accumulates (never pruned, outside generations), seen at
        ``<reports|artifacts>/majors_alts/<name>`` for ``store="run"`` (or inside the sweep's
        folders for ``"sweep"``); ``rel`` is ``reports/<name>`` or ``artifacts/<name>``."""
        m, _, name = rel.partition("/")
        if m not in MOUNTS or not name or "/" in name:
            raise ValueError(f"keep folder {rel!r}: expected reports/<name> or artifacts/<name>")
        d = self.home / "keep" / store / m / name
        with _guard(f"the folder {rel}", d):
            for made in fsops.makedirs(d):
                fsops.fsync_dir(made.parent)
        if store == "run":
            self._ensure_run_links()
        return d

    def _ensure_run_links(self) -> None:
        """The current run set links the sweep's set and every folder that accumulates; when
        it does not yet (a first sweep, a first ledger), a new run set carrying every file (hard
        links) and the links is switched in."""
        want = self._run_links()
        cur = self.run.current()
        if cur is None or any(not (cur / rel).is_symlink() for rel in want):
            self.publish_run({}, command="links", carry=True)
        else:
            with _guard("the run outputs", self.reports):
                self._mount()

    def _mount(self) -> None:
        for m in MOUNTS:
            p = self.root / m / SUB
            if p.is_symlink() and self._is_ours(m):
                continue
            for made in fsops.makedirs(self.root / m):
                fsops.fsync_dir(made.parent)
            _link_in_place(self._mount_target(m), p)
            fsops.fsync_dir(self.root / m)

    # ---- an earlier version's layout ------------------------------------------------------
    def _convert_legacy(self) -> list[str]:
        legacy = [
            m
            for m in MOUNTS
            if (self.root / m / SUB).is_dir() and not (self.root / m / SUB).is_symlink()
        ]
        if not legacy:
            return []
        _roll_forward_legacy_journals(self.root)
        run_e: dict[str, Entry] = {}
        sweep_e: dict[str, Entry] = {}
        for m in legacy:
            d = self.root / m / SUB
            for p in _walk_files(d):
                rel = p.relative_to(d)
                if rel.parts[0] != "sweep":
                    run_e[f"{m}/{rel.as_posix()}"] = Carry(p)
                elif len(rel.parts) > 2 and rel.parts[1] == "points":
                    dst = self.home / "keep" / "sweep" / m / "points" / Path(*rel.parts[2:])
                    fsops.makedirs(dst.parent)
                    if not dst.exists():
                        fsops.link_or_copy(p, dst)
                elif len(rel.parts) > 1:
                    sweep_e[f"{m}/{Path(*rel.parts[1:]).as_posix()}"] = Carry(p)
        if sweep_e:
            self.sweep.publish(
                {**sweep_e, **self.keep_links("sweep")},
                command="convert",
                where=self.reports / "sweep",
                lock=self.lock,
            )
        self.run.publish(
            {**run_e, **self._run_links()}, command="convert", where=self.reports, lock=self.lock
        )
        for m in legacy:
            _replace_folder_by_link(self.root / m / SUB, self._mount_target(m))
        self._mount()
        return [f"converted {self.root} from the earlier layout (folders {', '.join(legacy)})"]


def _replace_folder_by_link(folder: Path, target: str) -> None:
    """Replace a real folder by a symlink to a copy of it (hard links), in one step where the
    system can swap two names (else two renames: the path is absent for a moment)."""
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    fsops.symlink(target, tmp)
    if fsops.exchange(tmp, folder):
        fsops.remove(tmp)  # now the old folder
    else:
        aside = folder.with_name(f".{folder.name}.old-{os.getpid()}")
        fsops.rename(folder, aside)
        fsops.rename(tmp, folder)
        fsops.remove(aside)
    fsops.fsync_dir(folder.parent)


def _roll_forward_legacy_journals(root: Path) -> None:
    """An earlier version renamed files one by one under a journal; finish what it began."""
    found = [root / LEGACY_JOURNAL]
    for m in MOUNTS:
        if (root / m).is_dir():
            found += list((root / m).rglob(LEGACY_JOURNAL))
    for j in found:
        if not j.is_file():
            continue
        try:
            renames = json.loads(j.read_text())["renames"]
        except (OSError, ValueError, KeyError, TypeError):
            renames = []
        for tmp, final in renames:
            if Path(tmp).is_file():
                fsops.rename(Path(tmp), Path(final))
        fsops.remove(j)


@contextlib.contextmanager
def writing_outputs(
    root: Path,
    *,
    lakes: Iterable[Path | None] = (),
    duckdb: Path | None = None,
    command: str = "",
    wait_s: float | None = None,
) -> Iterator[OutputRoot]:
    """Hold ``root`` for writing (its lock), with every path checked against ``lakes`` and
    what an earlier writer left finished (``OutputRoot.recover``)."""
    lakes = list(lakes)
    out = OutputRoot(Path(root))
    out.check(lakes, duckdb)
    with hold(out.lock_dir, "output root", wait_s, command, owner=out.root) as lock:
        out.lock = lock
        out.check(lakes, duckdb)
        with _guard("the outputs", out.root):
            out.recover()
        yield out


class LakeOut:
    """A lake the importers write, held for writing (see the module docstring). ``files``: the
    set's files other than tables (names in the lake folder, e.g. ``importer_manifest.json``),
    published and linked like the tables."""

    def __init__(self, lake: Path, lock: Lock | None = None, files: Iterable[str] = ()) -> None:
        self.lake = Path(lake)
        self.lock = lock
        self.files = tuple(files)
        self.home = self.lake / STORE_DIR
        self.store = Store(self.home / "lake", "lake tables")

    def file_target(self, rel: str) -> str:
        return f"{STORE_DIR}/lake/current/{rel}"

    def table_target(self, name: str) -> str:
        return self.file_target(f"{name}.parquet")

    def file(self, rel: str) -> Path | None:
        """The current version of the set's file ``rel`` (through its link), or None."""
        p = self.lake / rel
        return p if p.is_file() else None

    def table(self, name: str) -> Path | None:
        """The current file of table ``name`` (through its link), or None."""
        return self.file(f"{name}.parquet")

    def recover(self, names: Iterable[str]) -> list[str]:
        rels = [f"{n}.parquet" for n in names] + list(self.files)
        done: list[str] = []
        self.store.adopt_copies()
        real = [r for r in rels if (p := self.lake / r).is_file() and not p.is_symlink()]
        if real:
            entries: dict[str, Entry] = {
                rel: Carry(p) for rel, p in self.store.current_files().items()
            }
            entries.update({r: Carry(self.lake / r) for r in real})
            self.store.publish(entries, command="convert", where=self.lake, lock=self.lock)
            for r in real:
                _link_in_place(self.file_target(r), self.lake / r)
            fsops.fsync_dir(self.lake)
            shown = ", ".join(r.removesuffix(".parquet") for r in real)
            done.append(f"converted {self.lake} from the earlier layout ({shown})")
        done += [f"removed lake generation {g}" for g in self.store.prune()]
        for tmp in self.lake.glob(".*.tmp-*"):  # an earlier version's, or a link's
            pid = tmp.name.rsplit("-", 1)[-1]
            if pid.isdigit() and not pid_alive(int(pid)):
                with contextlib.suppress(OSError):
                    fsops.remove(tmp)
                done.append(f"removed {tmp.name}, left by a killed process")
        for msg in done:
            log.debug(msg)
        return done

    def publish(
        self,
        tables: Mapping[str, bytes],
        meta: Mapping[str, Any],
        files: Mapping[str, bytes] | None = None,
        command: str = "import",
    ) -> str:
        """Publish the lake's tables: ``tables`` (name -> parquet bytes) and ``files`` (the
        set's other files, name -> bytes) replace theirs, every other file of the current set is
        carried over (hard links: same bytes, same mtime)."""
        entries: dict[str, Entry] = {rel: Carry(p) for rel, p in self.store.current_files().items()}
        for name, data in tables.items():
            entries[f"{name}.parquet"] = data
        for rel, data in (files or {}).items():
            if rel not in self.files:
                raise ValueError(f"{rel} is not one of the lake set's files {self.files}")
            entries[rel] = data
        rels = sorted(r for r in entries if r.endswith(".parquet") or r in self.files)
        with _guard("the lake's tables", self.lake):
            self._mount(rels)  # a new file's link dangles until the set that has it is in
        return self.store.publish(
            entries, command=command, where=self.lake, lock=self.lock, meta=meta
        )

    def _mount(self, rels: Iterable[str]) -> None:
        changed = False
        for r in rels:
            p = self.lake / r
            try:
                ours = os.readlink(p) == self.file_target(r)
            except OSError:
                ours = False
            if not ours:
                _link_in_place(self.file_target(r), p)
                changed = True
        if changed:
            fsops.fsync_dir(self.lake)


@contextlib.contextmanager
def writing_lake(
    lake: Path,
    names: Iterable[str],
    *,
    files: Iterable[str] = (),
    command: str = "",
    wait_s: float | None = None,
) -> Iterator[LakeOut]:
    """Hold a lake the importers write (its own lock beside the tables), with an earlier
    version's layout converted (tables ``names`` and the set's other ``files``) and leftovers
    of killed writers removed."""
    out = LakeOut(Path(lake), files=files)
    with hold(out.lake, "lake", wait_s, command, owner=out.lake) as lock:
        out.lock = lock
        with _guard("the lake's tables", out.lake):
            out.recover(names)
        yield out
