"""``majors-alts sweep SWEEP.yaml [--workers N] [--scheduler ADDRESS] [--output-root DIR]``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError, MonitorError
from ..lake.demo import demo_conflict, ensure_demo_lake
from ..shell import add_today, parse_date, print_result

if TYPE_CHECKING:
    from .spec import SweepSpec


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("sweep_file", type=Path, help="SWEEP.yaml: base_config, grid, lake, window")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes of the local Dask cluster, one thread each (default: the CPU count); "
        "0 runs the points in this process without Dask",
    )
    p.add_argument(
        "--scheduler", default=None, help="address of an existing Dask scheduler (tcp://host:port)"
    )
    p.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="give up on --scheduler when it has not completed Dask's handshake by then "
        "(default 10)",
    )
    p.add_argument(
        "--no-workers-timeout",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="stop (the finished points published) when the cluster has had no worker for "
        "this long (default 120)",
    )
    p.add_argument("--output-root", type=Path, default=None, help="override output_root")
    p.add_argument("--lake", type=Path, default=None, help="override the lake of every point")
    p.add_argument("--duckdb", type=Path, default=None, help="override paths.duckdb")
    p.add_argument("--demo", action="store_true", help="run every point on the demo lake")
    p.add_argument("--start", type=parse_date, default=None, help="first day (default: lake start)")
    p.add_argument("--end", type=parse_date, default=None, help="last day (default: lake end)")
    p.add_argument(
        "--order",
        choices=("grouped", "reverse", "shuffled"),
        default="grouped",
        help="submission order (grouped reuses the workers' caches best; the others exist to "
        "check that the results do not depend on it)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="reuse the points of an earlier run in the same output folder that finished ok "
        "with the same config hash (same lake and window); run the others",
    )
    p.add_argument("--quiet", action="store_true", help="no progress, the summary only")
    add_today(p)


def _check_demo(args: argparse.Namespace, spec: SweepSpec) -> None:
    """The demo lake and a lake of one's own at once is an error (exit 2), as for ``run``;
    ``--demo`` on the command line replaces a ``lake:``/``duckdb:`` of the sweep file, as it
    replaces the config file's paths for ``run``."""
    demo = "--demo" if args.demo else "'demo: true' in the sweep file" if spec.demo else None
    if demo is None:
        return
    given = [("--lake", args.lake), ("--duckdb", args.duckdb)]
    if not args.demo:
        given += [
            ("'lake:' in the sweep file", spec.lake),
            ("'duckdb:' in the sweep file", spec.duckdb),
        ]
    for name, v in given:
        if v is not None:
            raise demo_conflict(demo, name)


def cmd_sweep(args: argparse.Namespace) -> int:
    from .. import pipeline
    from ..lake.data_io import check_output_root, ensure_output_root, lake_span
    from .runner import SweepInterrupted, run_sweep
    from .spec import load_sweep, with_demo_lake, with_paths

    workers = (os.cpu_count() or 1) if args.workers is None else args.workers
    if workers < 0:
        raise ConfigError(f"--workers must be >= 0 (got {workers})")
    for opt, v in (
        ("--connect-timeout", args.connect_timeout),
        ("--no-workers-timeout", args.no_workers_timeout),
    ):
        if not v > 0:
            raise ConfigError(f"{opt} must be a positive number of seconds (got {v})")
    if args.scheduler is not None:
        from .runner import check_scheduler_address

        check_scheduler_address(args.scheduler)
    spec = load_sweep(args.sweep_file)
    _check_demo(args, spec)
    for w in spec.warnings:
        print(f"warning: {w}", file=sys.stderr)
    for d in spec.duplicates:
        print(
            f"warning: {spec.source} entry {d.entry} {json.dumps(d.overrides, default=str)} is "
            f"the same run as point {d.duplicate_of} "
            f"{json.dumps(spec.points[d.duplicate_of].overrides, default=str)} ({d.why}): "
            "collapsed into it (run once, counted once in the sweep-level deflated Sharpe)",
            file=sys.stderr,
        )
    spec = with_paths(spec, args.lake, args.duckdb, args.output_root)
    cfg0 = spec.points[0].config
    root = cfg0.paths.output_root
    if not (args.demo or spec.demo):
        check_output_root(root, cfg0.paths.data_lake, cfg0.paths.duckdb)
    ensure_output_root(root)
    if args.demo or spec.demo:
        spec = with_demo_lake(spec, ensure_demo_lake(root))
        cfg0 = spec.points[0].config
    check_output_root(root, cfg0.paths.data_lake, cfg0.paths.duckdb)
    s0, e0 = lake_span(pipeline.make_reader(cfg0))
    start, end = args.start or spec.start or s0, args.end or spec.end or e0
    if end < start:
        raise MonitorError(f"the sweep's end {end} is before its start {start}")
    where = args.scheduler or (f"{workers} local worker(s)" if workers else "this process")
    if not args.quiet:
        print(
            f"sweep {spec.source}: {len(spec.points)} points over {', '.join(spec.keys)}; "
            f"{start}..{end}; on {where}",
            file=sys.stderr,
        )
    from ..publish.layout import writing_outputs

    lakes = [p.config.paths.data_lake for p in spec.points[:1]]
    try:  # one writer per output root, as for run and signals
        with writing_outputs(root, lakes=lakes, duckdb=cfg0.paths.duckdb, command="sweep") as out:
            run = run_sweep(
                spec,
                out,
                start,
                end,
                workers=workers,
                scheduler=args.scheduler,
                order=args.order,
                quiet=args.quiet,
                resume=args.resume,
                connect_timeout=args.connect_timeout,
                no_workers_timeout=args.no_workers_timeout,
            )
    except SweepInterrupted as err:
        print(str(err), file=sys.stderr)
        return 130
    from .results import summary

    s = summary(spec, run.rows, run.trial_sr)
    lines = [f"sweep: {s['n_ok']} of {s['n_points']} points ok, {s['n_error']} failed"]
    if s["best_point"]:
        b, d = s["best_point"], s["sweep_deflated_sharpe"]
        dsr = "n/a" if d["value"] is None else f"{d['value']:.3f}"
        lines.append(
            f"best point {b['point']} {b['values']}: OOS Sharpe {b['oos_sharpe']:.3f}; "
            f"deflated Sharpe over all {d['n_trials_total']:,} trials {dsr}"
        )
    lines.append(f"  results     {run.reports / 'sweep_results.parquet'}")
    lines.append(f"  dashboard   {run.reports / 'sweep_dashboard.html'}")
    lines.append(f"  manifest    {run.artifacts / 'sweep_manifest.json'}")
    if s["n_error"]:
        lines.append(f"  {s['n_error']} point(s) failed: see the error column of the results")
    return print_result("\n".join(lines))
