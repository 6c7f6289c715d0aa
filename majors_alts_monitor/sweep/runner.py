"""Run a sweep's points on Dask and write its outputs as points complete.

A ``LocalCluster`` of ``workers`` processes (one thread each) by default, an existing cluster
with ``scheduler``, or this process alone with ``workers=0``. Points are sent grouped by the
data they share (so each worker reads the lake and builds each market once per group), each
finished point publishes a new sweep set (``sweep_results.parquet``, ``sweep_summary.json``,
the manifest: a generation switched in by one rename, ``publish.layout``), and Ctrl-C leaves
the finished points published.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__, clock
from ..errors import LimitError
from ..publish.layout import OutputRoot
from ..report.outputs import ARTIFACTS, REPORTS, OutputPaths, to_json_bytes
from .results import parquet_bytes, previous_points, summary, table, trials_table
from .spec import SweepSpec
from .worker import PointOutcome, PointTask, cache_keys, run_point

log = logging.getLogger("majors_alts_monitor")
SWEEP_REPORTS = REPORTS / "sweep"
SWEEP_ARTIFACTS = ARTIFACTS / "sweep"


class SweepInterrupted(Exception):
    def __init__(self, done: int, total: int, where: Path) -> None:
        super().__init__(
            f"interrupted: {done} of {total} points finished; their results are written in {where}"
        )


@dataclass
class SweepRun:
    spec: SweepSpec
    out: OutputRoot
    start: date
    end: date
    rows: dict[int, dict[str, Any]]
    trial_sr: dict[int, np.ndarray | None]
    timings: dict[int, dict[str, Any]]
    cluster: dict[str, Any]
    t0: float

    @property
    def root(self) -> Path:
        return self.out.root

    @property
    def reports(self) -> Path:
        return self.root / SWEEP_REPORTS

    @property
    def artifacts(self) -> Path:
        return self.root / SWEEP_ARTIFACTS

    def write(self, final: bool = False, dashboard: bool = False) -> None:
        """The results, summary, manifest and the trials of every finished point (kept for
        ``--resume``, so that a sweep whose process was killed resumes from its last finished
        point); at the end (``dashboard``) also the dashboard. The files are published as one
        set (``publish.layout``: one rename switches them), so the trials on disk are always
        those of the results beside them."""
        files = {
            "reports/sweep_results.parquet": parquet_bytes(table(self.spec, self.rows)),
            "reports/sweep_summary.json": to_json_bytes(
                summary(self.spec, self.rows, self.trial_sr)
            ),
            "artifacts/sweep_manifest.json": to_json_bytes(self.manifest(final)),
            "artifacts/sweep_trials.parquet": parquet_bytes(trials_table(self.spec, self.trial_sr)),
        }
        if dashboard:
            from .dashboard import sweep_dashboard_html

            files["reports/sweep_dashboard.html"] = sweep_dashboard_html(
                self.spec,
                table(self.spec, self.rows),
                summary(self.spec, self.rows, self.trial_sr),
                js_cache_dir=OutputPaths(self.root).cache,
            ).encode()
        self.out.publish_sweep(files)

    def manifest(self, final: bool) -> dict[str, Any]:
        secs = [t["seconds"] for t in self.timings.values() if not t.get("resumed")]
        return {
            "package_version": __version__,
            "sweep_file": str(self.spec.source.resolve()),
            "base_config": str(self.spec.base_config.resolve()),
            "sweep_hash": self.spec.hash(),
            "window": {"start": self.start.isoformat(), "end": self.end.isoformat()},
            "lake": str(self.spec.points[0].config.paths.data_lake.resolve()),
            "cluster": self.cluster,
            "started_at": datetime.fromtimestamp(self.t0, UTC).isoformat(timespec="seconds"),
            "finished": final,
            "elapsed_s": round(time.time() - self.t0, 3),
            "points_done": len(self.rows),
            "points_total": len(self.spec.points),
            "point_seconds_total": round(sum(secs), 3),
            "point_seconds_median": round(float(np.median(secs)), 3) if secs else None,
            "points": [{"point": i, **self.timings[i]} for i in sorted(self.timings)],
            "note": "timings and workers per point live here, not in sweep_results.parquet, so "
            "the results file is byte-identical whatever the workers; seconds is the point's "
            "wall time on its worker, cache tells whether the worker reused its lake, market "
            "and prepared inputs, peak_rss_mb is the worker process's high-water mark after it",
        }


def submission_order(spec: SweepSpec, tasks: list[PointTask], order: str) -> list[PointTask]:
    """``grouped``: points sharing a market, then prepared inputs, are sent together (best
    reuse of each worker's caches); ``reverse`` and ``shuffled`` exist to test determinism."""
    if order == "reverse":
        return tasks[::-1]
    if order == "shuffled":
        rng = np.random.default_rng(12345)
        return [tasks[i] for i in rng.permutation(len(tasks))]
    fp = {"lake": str(spec.points[0].config.paths.data_lake.resolve())}

    def key(t: PointTask) -> tuple[str, str, int]:
        _, m, p = cache_keys(t.config, t.start, t.end, fp)
        return m, p, t.point

    firsts: dict[str, int] = {}
    for t in tasks:
        firsts.setdefault(key(t)[0], t.point)
    return sorted(tasks, key=lambda t: (firsts[key(t)[0]], *key(t)[1:]))


class _Bar:
    """rich progress bar on a terminal, plain lines otherwise (as ``run`` does)."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.quiet, self.t0, self.done = total, quiet, time.time(), 0
        self.bar: Any = None
        if sys.stderr.isatty() and not quiet:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            self.bar = Progress(
                "[bold cyan]sweep",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                "{task.description}",
                console=Console(stderr=True),
            )
            self.bar.start()
            self.task = self.bar.add_task("", total=total)

    def advance(self, o: PointOutcome) -> None:
        self.done += 1
        status = o.row["status"]
        msg = f"point {o.point}: {status}" + (
            f" (Sharpe {o.row['oos_sharpe']:.2f})"
            if status == "ok" and o.row.get("oos_sharpe") is not None
            else ""
        )
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=msg)
        elif not self.quiet:
            el = time.time() - self.t0
            print(f"[{el:6.1f}s] {self.done}/{self.total} {msg}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


class _IgnoreSigint:
    """Worker plugin: a terminal's Ctrl-C reaches the worker processes too; they leave it to
    the client, which cancels the points and closes the cluster."""

    name = "majors-alts-ignore-sigint"

    def setup(self, worker: Any) -> None:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def _sigint_flag() -> Iterator[list[bool]]:
    """Ctrl-C still raises KeyboardInterrupt, and also leaves a flag (truthy once pressed), since
    native code (polars, numba) running a point may turn the interrupt into an ordinary error
    that the point would otherwise record as its failure."""
    import signal
    import threading

    flag: list[bool] = []
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, frame: Any) -> None:
        flag.append(True)
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, old)


SCHEMES = ("tcp", "tls", "ws", "wss")


def check_scheduler_address(address: str) -> None:
    """``--scheduler`` must be ``tcp://HOST:PORT`` (or tls/ws/wss); anything else (``ucx://``,
    a bare word) is refused before any connection."""
    from ..errors import ConfigError

    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    host, _, port = rest.rpartition(":")
    if scheme not in SCHEMES or not host or not port.isdigit():
        raise ConfigError(
            f"--scheduler {address!r} is not an address this sweep can use (expected "
            f"{'|'.join(SCHEMES)}://HOST:PORT). What to do: pass the address `dask scheduler` "
            "prints, or drop --scheduler to use a local cluster"
        )


def _connect(scheduler: str, timeout: float) -> Any:
    """A client of ``scheduler``, or a ``MonitorError`` within about ``timeout`` seconds: the
    connection and Dask's handshake run in a daemon thread, so a peer that accepts and then
    says nothing (a web server) or garbage (a length of 3 EiB) cannot hang or crash us."""
    import threading

    from dask.distributed import Client

    from ..errors import LimitError, MonitorError

    got: dict[str, Any] = {}

    def attempt() -> None:
        try:
            got["client"] = Client(scheduler, timeout=timeout)
        except BaseException as err:  # noqa: BLE001 - MemoryError from a garbage length too
            got["error"] = err

    t = threading.Thread(target=attempt, name="dask-connect", daemon=True)
    t.start()
    t.join(timeout + 1.0)
    if t.is_alive():
        raise LimitError(
            f"the Dask scheduler at {scheduler!r} did not complete the handshake within "
            f"--connect-timeout {timeout:g} s (is it a Dask scheduler?). What to do: pass the "
            "address `dask scheduler` prints, or raise --connect-timeout on a slow network"
        )
    if "error" in got:
        err = got["error"]
        if isinstance(err, KeyboardInterrupt):
            raise err
        what = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        raise MonitorError(
            f"cannot reach the Dask scheduler at {scheduler!r} ({what}). What to do: start one "
            "(`dask scheduler`) and pass its address, tcp://HOST:PORT, or drop --scheduler to "
            "use a local cluster"
        ) from None
    return got["client"]


@contextmanager
def _client(
    workers: int, scheduler: str | None, connect_timeout: float = 10.0
) -> Iterator[tuple[Any, dict[str, Any]]]:
    from dask.distributed import Client, LocalCluster

    if scheduler is not None:
        check_scheduler_address(scheduler)
        client = _connect(scheduler, connect_timeout)
        info = {"kind": "scheduler", "address": scheduler}
        try:
            info["workers"] = len(client.scheduler_info()["workers"])
            yield client, info
        finally:
            client.close()
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    saved = {k: os.environ.get(k) for k in ("NUMBA_NUM_THREADS",)}
    os.environ["NUMBA_NUM_THREADS"] = str(threads)  # read by numba in the spawned workers
    try:
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    client = Client(cluster)
    info = {"kind": "local", "workers": workers, "numba_threads_per_worker": threads}
    try:
        from dask.distributed import WorkerPlugin

        class _Plugin(_IgnoreSigint, WorkerPlugin):
            pass

        client.register_plugin(_Plugin())
        yield client, info
    finally:
        client.close()
        cluster.close()


def run_sweep(
    spec: SweepSpec,
    out: OutputRoot,
    start: date,
    end: date,
    *,
    workers: int = 2,
    scheduler: str | None = None,
    order: str = "grouped",
    quiet: bool = False,
    numba_threads: int | None = None,
    on_start: Callable[[SweepRun], None] | None = None,
    resume: bool = False,
    connect_timeout: float = 10.0,
    no_workers_timeout: float = 120.0,
) -> SweepRun:
    """Run every point; return the finished sweep (outputs published in ``out``, an output
    root held for writing). Raises ``SweepInterrupted`` on Ctrl-C after publishing the finished
    points. ``resume`` reuses the points of an earlier run of the same sweep folder that
    finished ok with the same config hash, lake and window."""
    run = SweepRun(spec, out, start, end, {}, {}, {}, {}, time.time())
    if resume:
        _resume(run)
    # each point's report set is an output root of its own in a folder that accumulates
    reports_root = out.keep_dir("sweep", "reports/points") if spec.write_reports else None
    tasks = [
        PointTask(
            p.id,
            p.config,
            start,
            end,
            None if reports_root is None else reports_root / f"{p.id:04d}",
            numba_threads,
            clock.today(),
        )
        for p in spec.points
        if p.id not in run.rows
    ]
    tasks = submission_order(spec, tasks, order)
    run.write()  # every point pending: an older sweep's results are not mistaken for this one's
    bar = _Bar(len(tasks), quiet)

    def done(o: PointOutcome, worker: str) -> None:
        run.rows[o.point] = o.row
        run.trial_sr[o.point] = o.trial_sharpe
        run.timings[o.point] = {
            "seconds": round(o.seconds, 3),
            "worker": worker,
            "pid": o.pid,
            "cache": o.cache,
            "peak_rss_mb": round(o.peak_rss_mb, 1),
            "status": o.row["status"],
        }
        run.write()
        bar.advance(o)

    try:
        with _sigint_flag() as interrupted:
            if workers == 0 and scheduler is None:
                run.cluster = {"kind": "in-process", "workers": 0}
                if on_start:
                    on_start(run)
                for t in tasks:
                    o = run_point(t)
                    if interrupted:  # a library may have turned Ctrl-C into an error
                        raise KeyboardInterrupt
                    done(o, "in-process")
            else:
                limits = (connect_timeout, no_workers_timeout)
                _run_dask(run, tasks, workers, scheduler, done, on_start, limits)
    except KeyboardInterrupt:
        bar.close()
        run.write(final=False, dashboard=True)
        raise SweepInterrupted(len(run.rows), len(spec.points), run.reports) from None
    except LimitError:  # a cluster without workers: what finished is published, then said
        bar.close()
        run.write(final=False, dashboard=True)
        raise
    bar.close()
    run.write(final=True, dashboard=True)
    return run


def _resume(run: SweepRun) -> None:
    import json

    import pyarrow.parquet as pq

    from ..errors import ConfigError

    res = run.reports / "sweep_results.parquet"
    man = run.artifacts / "sweep_manifest.json"
    if not res.is_file() or not man.is_file():
        return
    old = json.loads(man.read_text())
    now = run.manifest(False)
    for key in ("window", "lake"):
        if old.get(key) != now[key]:
            raise ConfigError(
                f"--resume: the sweep in {run.reports} ran with {key} {old.get(key)}, this one "
                f"with {now[key]}. What to do: use the same {key}, another --output-root, or "
                "drop --resume"
            )
    trials = run.artifacts / "sweep_trials.parquet"
    rows, srs = previous_points(
        run.spec, pq.read_table(res), pq.read_table(trials) if trials.is_file() else None
    )
    run.rows.update(rows)
    run.trial_sr.update(srs)
    for i in rows:
        run.timings[i] = {"seconds": 0.0, "resumed": True, "status": "ok"}


def _run_dask(
    run: SweepRun,
    tasks: list[PointTask],
    workers: int,
    scheduler: str | None,
    done: Callable[[PointOutcome, str], None],
    on_start: Callable[[SweepRun], None] | None,
    limits: tuple[float, float] = (10.0, 120.0),
) -> None:
    from dask.distributed import wait

    from .results import error_row

    connect_timeout, no_workers_timeout = limits
    with _client(workers, scheduler, connect_timeout) as (client, info):
        run.cluster = info
        if on_start:
            on_start(run)
        futs: dict[str, int] = {}
        submitted = []
        try:
            for t in tasks:
                f = client.submit(
                    run_point, t, key=f"sweep-{run.spec.hash()}-{t.point}", pure=False, retries=1
                )
                futs[f.key] = t.point
                submitted.append(f)
            pending = set(submitted)
            alone_since: float | None = None
            poll = min(1.0, no_workers_timeout / 4)
            while pending:
                try:
                    finished = wait(list(pending), timeout=poll, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    alone_since = _check_workers(client, alone_since, no_workers_timeout, run)
                    continue
                alone_since = None
                for fut in sorted(finished.done, key=lambda f: futs[f.key]):
                    pending.discard(fut)
                    try:
                        o = fut.result()
                        who = _who(client, fut)
                    except Exception as err:  # noqa: BLE001 - a lost worker fails only its point
                        row = error_row(f"{type(err).__name__}: {err}")
                        o, who = PointOutcome(futs[fut.key], row, None), ""
                    done(o, who)
                    fut.release()
        except BaseException:
            client.cancel(submitted, force=True)
            raise


def _check_workers(
    client: Any, alone_since: float | None, limit: float, run: SweepRun
) -> float | None:
    """``None`` while the cluster has workers; else since when it has none, and a
    ``LimitError`` once that is longer than ``limit`` seconds (``--no-workers-timeout``)."""
    try:
        n = len(client.scheduler_info()["workers"])
    except Exception:  # noqa: BLE001 - a scheduler that went away has no workers either
        n = 0
    if n:
        return None
    now = time.monotonic()
    if alone_since is None:
        log.warning("the Dask cluster has no workers; waiting for some")
        return now
    if now - alone_since > limit:
        raise LimitError(
            f"the Dask cluster has had no workers for {limit:g} s (--no-workers-timeout); "
            f"{len(run.rows)} of {len(run.spec.points)} points finished and are published in "
            f"{run.reports}. What to do: start workers (`dask worker ADDRESS`) and run the "
            "sweep again with --resume"
        )
    return alone_since


def _who(client: Any, fut: Any) -> str:
    try:
        return str(next(iter(client.who_has([fut]).get(fut.key, ())), ""))
    except Exception:  # noqa: BLE001 - only for the manifest
        return ""
