"""Atomic writers: every output is rendered in memory, written to a temporary name in its own
folder and renamed into place, so a reader never sees half a file and a failed run leaves the
previous outputs whole. Only this module and ``dashboard.py`` (through this one) write files.

A set of files is committed with a journal (``write_all``): every file goes to a temporary
name first, then a journal listing the renames is written (atomically), then the renames, then
the journal is removed. A process killed before the journal leaves the previous outputs as
they were (stale temporary files are removed later); one killed after it leaves a journal that
the next writer rolls forward (``recover``), so the set becomes the new one, whole. The run's
manifest, renamed last, carries the run id and every file's sha256 (``verify``).

``output_lock`` keeps two processes from writing one output root at once (``fcntl.flock`` on
``cache/majors_alts.lock``, released by the kernel when its owner dies, so a dead owner never
blocks).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import logging
import math
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from ..errors import OutputLocationError

if TYPE_CHECKING:
    from ..backtest.stages import RunResult

log = logging.getLogger("majors_alts_monitor")

REPORTS = Path("reports") / "majors_alts"
ARTIFACTS = Path("artifacts") / "majors_alts"
CACHE = Path("cache")
JOURNAL = ".majors_alts_commit.json"
LOCK = CACHE / "majors_alts.lock"
LOCK_WAIT_ENV = "MAJORS_ALTS_LOCK_WAIT_S"
LOCK_WAIT_S = 10.0
# manifest keys that change from run to run with the same inputs (kept out of the run id)
VOLATILE = ("timings_s", "started_at", "finished_at", "generated_at")


@dataclass(frozen=True)
class OutputPaths:
    root: Path

    @property
    def reports(self) -> Path:
        return self.root / REPORTS

    @property
    def artifacts(self) -> Path:
        return self.root / ARTIFACTS

    @property
    def cache(self) -> Path:
        return self.root / CACHE


def clean_json(x: Any) -> Any:
    """JSON-safe copy: NaN/inf -> None, numpy scalars -> Python, tuples -> lists."""
    if isinstance(x, dict):
        return {str(k): clean_json(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [clean_json(v) for v in x]
    if isinstance(x, np.ndarray):
        return clean_json(x.tolist())
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating | float):
        f = float(x) + 0.0  # -0.0 + 0.0 is 0.0: no "-0.0" in a file
        return f if math.isfinite(f) else None
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def to_json_bytes(obj: Any) -> bytes:
    return (json.dumps(clean_json(obj), indent=2, allow_nan=False) + "\n").encode()


def positive_zero(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with every negative zero of its float columns made 0.0 (no other value changes):
    a weight of 0 times a negative beta is -0.0, which a file would print as "-0.0"."""
    return df.with_columns(
        pl.when(pl.col(c) == 0).then(pl.lit(0.0, dtype=t)).otherwise(pl.col(c)).alias(c)
        for c, t in df.schema.items()
        if t.is_float()
    )


def csv_bytes(df: pl.DataFrame) -> bytes:
    """``df`` as CSV; a negative zero is written as 0.0 (``positive_zero``)."""
    buf = io.BytesIO()
    positive_zero(df).write_csv(buf, date_format="%Y-%m-%d", float_precision=None)
    return buf.getvalue()


def parquet_bytes(df: pl.DataFrame, metadata: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    df.write_parquet(buf, metadata=metadata)
    return buf.getvalue()


def _write_temp(path: Path, data: bytes) -> Path:
    """Write ``data`` to a hidden temporary name beside ``path`` (flushed to disk)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return tmp


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    write_all({path: data})


def write_all(files: dict[Path, bytes]) -> list[Path]:
    """Write a set of rendered files in two phases: every file goes to a temporary name first
    (a failure there removes them and leaves every previous output as it was), then a journal
    of the renames is committed and each file is renamed into place in the given order, so
    readers see either the old or the new version of each file, and an interrupted commit is
    rolled forward by the next ``recover``. Put the file that vouches for the set (the run
    manifest) last."""
    tmps: list[tuple[Path, Path]] = []
    try:
        for path, data in files.items():
            tmps.append((_write_temp(path, data), path))
    except BaseException:
        for tmp, _ in tmps:
            tmp.unlink(missing_ok=True)
        path.with_name(f".{path.name}.tmp-{os.getpid()}").unlink(missing_ok=True)
        raise
    journal = None
    if len(tmps) > 1:
        base = Path(os.path.commonpath([str(p.parent.resolve()) for p in files]))
        journal = base / JOURNAL
        body = json.dumps({"renames": [[str(t.resolve()), str(p.resolve())] for t, p in tmps]})
        os.replace(_write_temp(journal, body.encode()), journal)
        _fsync_dir(base)
    for tmp, path in tmps:
        os.replace(tmp, path)
    for d in {p.parent for p in files}:
        _fsync_dir(d)
    if journal is not None:
        journal.unlink()
    return list(files)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(root: Path) -> list[str]:
    """Finish what a killed writer left under ``root``: roll interrupted commits forward (their
    journal lists renames whose temporary files are complete), then remove temporary files of
    dead processes. Returns what was done (also logged)."""
    root = Path(root)
    done: list[str] = []
    bases = [root, *(root / d for d in ("reports", "artifacts") if (root / d).is_dir())]
    found = [root / JOURNAL, *(j for b in bases[1:] for j in b.rglob(JOURNAL))]
    journals = sorted(j for j in found if j.is_file())
    for j in journals:
        try:
            renames = json.loads(j.read_text())["renames"]
        except (OSError, ValueError, KeyError):
            renames = []
        n = 0
        for tmp, final in renames:
            if Path(tmp).is_file():
                os.replace(tmp, final)
                n += 1
        j.unlink(missing_ok=True)
        done.append(f"rolled forward an interrupted commit in {j.parent} ({n} files renamed)")
    stale = [*root.glob(f".{JOURNAL}.tmp-*"), *(t for b in bases[1:] for t in b.rglob(".*.tmp-*"))]
    for tmp in stale:
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _pid_alive(int(pid)):
            tmp.unlink(missing_ok=True)
            done.append(f"removed {tmp.relative_to(root)}, left by a killed process")
    for msg in done:
        log.warning(msg)
    return done


_HELD: dict[Path, int] = {}


@contextlib.contextmanager
def output_lock(root: Path, wait_s: float | None = None) -> Iterator[Path]:
    """Hold the output root for writing. A second process waits up to ``wait_s`` seconds
    (default ``$MAJORS_ALTS_LOCK_WAIT_S`` or 10) with a message, then refuses with an
    ``OutputLocationError`` naming the owner. Re-entrant within a process. On entry an
    interrupted commit of a killed run is rolled forward (``recover``)."""
    root = Path(root)
    key = root.resolve()
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield root / LOCK
        finally:
            _HELD[key] -= 1
        return
    if wait_s is None:
        wait_s = float(os.environ.get(LOCK_WAIT_ENV, LOCK_WAIT_S))
    path = root / LOCK
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise OutputLocationError(
            f"cannot create the lock file {path} ({err.strerror}). What to do: pass an "
            "--output-root you can write to"
        ) from None
    deadline, told = time.monotonic() + wait_s, False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            owner = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            if time.monotonic() >= deadline:
                os.close(fd)
                raise OutputLocationError(
                    f"output root {root} is in use by {owner} (lock {path}); waited {wait_s:g} s. "
                    "What to do: wait for that run to finish, or pass another --output-root"
                ) from None
            if not told:
                log.warning(f"output root {root} is in use by {owner}; waiting up to {wait_s:g} s")
                told = True
            time.sleep(0.1)
    since = datetime.now(UTC).isoformat(timespec="seconds")
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {since}\n".encode(), 0)
    _HELD[key] = 1
    try:
        recover(root)
        yield path
    finally:
        del _HELD[key]
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run_id(manifest: dict) -> str:
    """The same inputs give the same id: package version, config hash, window and the lake's
    files (sizes and modification times), nothing that depends on the clock."""
    lake = manifest.get("lake", {})
    basis = {
        "package_version": manifest.get("package_version"),
        "config_hash": manifest.get("config_hash"),
        "command": manifest.get("command"),
        "effective_window": manifest.get("effective_window"),
        "lake_tables": lake.get("tables") if isinstance(lake, dict) else None,
    }
    return sha256(json.dumps(clean_json(basis), sort_keys=True).encode())[:16]


def verify(root: Path) -> list[str]:
    """Problems with the output set under ``root``: each file the manifest lists must have the
    sha256 the manifest records (an empty list: the set is the manifest's run, whole)."""
    man_path = OutputPaths(Path(root)).artifacts / "run_manifest.json"
    try:
        man = json.loads(man_path.read_text())
    except (OSError, ValueError) as err:
        return [f"{man_path}: {err}"]
    out = []
    for rel, meta in man.get("files", {}).items():
        p = Path(root) / rel
        if not p.is_file():
            out.append(f"{rel}: missing")
        elif sha256(p.read_bytes()) != meta["sha256"]:
            out.append(f"{rel}: not the version of run {man.get('run_id')}")
    return out


def _timings_to_manifest(kpis: dict, manifest: dict) -> tuple[dict, dict]:
    """Timings (a block's ``seconds``, such as ``robustness.seconds``) leave kpis.json for the
    manifest's ``timings_s`` (as ``<block>``, unless the pipeline timed it there already), so
    kpis.json depends on the inputs only."""
    timings = dict(manifest.get("timings_s", {}))
    out = {}
    for k, v in kpis.items():
        if isinstance(v, dict) and "seconds" in v:
            timings.setdefault(k, v["seconds"])  # the pipeline's own lap wins
            v = {kk: vv for kk, vv in v.items() if kk != "seconds"}
        out[k] = v
    return out, {**manifest, "timings_s": timings}


def render_run_files(
    paths: OutputPaths,
    res: RunResult,
    *,
    dashboard_html: str,
    with_signal: bool = True,
    log_text: str = "",
) -> dict[Path, bytes]:
    """Every output of a run, rendered. The run id (``run_id``) goes into the manifest, kpis.json,
    the parquet files' metadata and a ``<meta>`` tag of the dashboard; the manifest lists every
    other file's sha256 and comes last (see ``write_all``)."""
    r, a = paths.reports, paths.artifacts
    kpis, manifest = _timings_to_manifest(res.kpis, res.manifest)
    signal = res.signal if with_signal else None
    rid = run_id(manifest)
    meta = {"majors_alts_run_id": rid}
    html = dashboard_html.replace(
        "<head>", f'<head><meta name="majors-alts-run-id" content="{rid}">', 1
    )
    files = {
        r / "regime_timeline.csv": csv_bytes(res.timeline),
        r / "features_wide.parquet": parquet_bytes(res.features, meta),
        r / "bt_daily_pnl.csv": csv_bytes(res.pnl),
        r / "bt_equity_curve.csv": csv_bytes(res.equity),
        r / "kpis.json": to_json_bytes({**kpis, "run_id": rid}),
        r / "regime_metrics.csv": csv_bytes(res.regime_metrics),
        r / "dashboard.html": html.encode(),
        a / "fold_params.json": to_json_bytes(res.folds),
        a / "trials.parquet": parquet_bytes(res.trials, meta),
        a / "run.log": log_text.encode(),
    }
    if signal is not None:
        # no run id here: `signals` rewrites this file on its own, and the file must be the
        # same whichever command wrote it (generated_at aside)
        files[r / "signals_today.json"] = to_json_bytes(signal)
    if res.attribution is not None:
        files[r / "pnl_attribution.csv"] = csv_bytes(res.attribution)
    listed = {
        str(p.relative_to(paths.root)): {"sha256": sha256(b), "bytes": len(b)}
        for p, b in files.items()
    }
    full = {**manifest, "run_id": rid, "files": listed}
    files[a / "run_manifest.json"] = to_json_bytes(full)
    return files
