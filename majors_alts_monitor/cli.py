"""Command line: ``majors-alts <command>`` (``majors-alts --help`` lists the commands).
Parsing, progress, error-to-exit mapping.

Exit codes (docs/commands.md has the table): 0 success; 2 bad input or configuration (the
message says what to do); 1 unexpected failure (the message points at the log); 3 the outputs
are written but the ``--notify`` alert could not be posted; 75 a source could not be read;
120 the summary could not be written to standard output; 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import NoReturn

from . import __version__, clock
from .config import Config, load_config
from .errors import MonitorError
from .interrupts import caused_by_interrupt, raise_if_interrupted, sticky_sigint
from .lake.demo import DEMO_ASSETS, demo_conflict, ensure_demo_lake
from .publish import generations
from .shell import (
    LogCapture,
    Progress,
    add_today,
    closed_stdout,
    outputs_state,
    parse_date,
    print_result,
    setup_logging,
    wrote_anything,
)

log = logging.getLogger("majors_alts_monitor")


def _common(p: argparse.ArgumentParser, demo: bool = True) -> None:
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help="YAML config (default: the packaged majors_alts_monitor/config.yaml)",
    )
    p.add_argument("--lake", type=Path, default=None, help="override paths.data_lake")
    p.add_argument("--duckdb", type=Path, default=None, help="override paths.duckdb")
    p.add_argument(
        "--output-root",
        type=Path,
        default=None,
        help="folder under which reports/, artifacts/, cache/ are written",
    )
    if demo:
        p.add_argument(
            "--demo",
            action="store_true",
            help="generate (once) and use the synthetic demo lake under <output-root>/cache/",
        )
    p.add_argument("--quiet", action="store_true", help="warnings and the summary only")
    add_today(p)


def _book_options(p: argparse.ArgumentParser) -> None:
    """The book to trade in money (``report/orders.py``): amounts at a capital, orders against
    current holdings rounded to a minimum order."""
    g = p.add_argument_group("the book to trade")
    g.add_argument(
        "--capital",
        type=_usd,
        default=None,
        help="equity in USD: print and record tomorrow's book in dollars (signals_today.json "
        "amounts)",
    )
    g.add_argument(
        "--positions",
        type=Path,
        default=None,
        help="CSV of current holdings, header asset_id,usd_notional (signed USD): print and "
        "record the orders to reach tomorrow's book (needs --capital)",
    )
    g.add_argument(
        "--min-order",
        type=_usd,
        default=0.0,
        help="round each order to a multiple of this many USD; smaller ones are not sent "
        "(default 0: exact amounts)",
    )


def _usd(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        v = float("nan")
    if not (v >= 0 and v < float("inf")):
        raise argparse.ArgumentTypeError(f"{s!r} is not a non-negative amount of USD")
    return v


def _sizing(args: argparse.Namespace, cfg: Config) -> tuple[dict[str, float] | None, str | None]:
    """The current holdings of ``--positions`` (read before any work, so a bad file fails
    fast), checked against ``--capital``."""
    if args.capital is None and (args.positions is not None or args.min_order):
        opt = "--positions" if args.positions is not None else "--min-order"
        raise MonitorError(f"{opt} needs --capital (the equity the book's weights apply to)")
    if args.capital is not None and args.capital <= 0:
        raise MonitorError("--capital must be a positive amount of USD")
    if args.positions is None:
        return None, None
    from .report.orders import read_positions

    return read_positions(args.positions, cfg.universe.aliases), args.positions.name


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="majors-alts", description=__doc__.split("\n")[0])
    ap.add_argument("--version", action="version", version=__version__)
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="walk-forward backtest, regime timeline, KPIs, dashboard")
    r.add_argument("--start", type=parse_date, default=None, help="first day (default: lake start)")
    r.add_argument("--end", type=parse_date, default=None, help="last day (default: lake end)")
    _common(r)
    _book_options(r)
    s = sub.add_parser("signals", help="tomorrow's regime and target book from data <= --asof")
    s.add_argument(
        "--asof", type=parse_date, default=None, help="decision date (default: lake end)"
    )
    s.add_argument(
        "--start",
        type=parse_date,
        default=None,
        help="origin of the walk-forward fold schedule (default: the lake's first date, as for "
        "run); pass the run's --start to reproduce that run's regime",
    )
    s.add_argument(
        "--allow-stale",
        action="store_true",
        help="accept an --asof more than data.stale_days after the lake's last date (the "
        "signal is then for the day after that date and marked stale)",
    )
    _common(s)
    _book_options(s)
    from .morning import commands as morning
    from .morning.notify import add_arguments as notify_arguments

    notify_arguments(r)  # --notify URL | --notify-env NAME | --notify-file PATH
    notify_arguments(s)
    morning.add_parsers(sub, _common, _book_options)  # daily, ledger
    y = sub.add_parser("synth", help="write a synthetic lake with planted truth")
    y.add_argument("out_dir", type=Path)
    y.add_argument("--seed", type=int, default=0)
    y.add_argument("--world", choices=["planted", "null"], default="planted")
    y.add_argument("--assets", type=int, default=DEMO_ASSETS)
    y.add_argument("--start", type=parse_date, default=None)
    y.add_argument("--end", type=parse_date, default=None)
    y.add_argument("--partitioned", action="store_true")
    y.add_argument("--quirks", default="", help="comma list: duplicates,gaps,ragged_ends,spellings")
    y.add_argument(
        "--design",
        default="baseline",
        help="how the planted regime shows (lake.synthetic.DESIGNS): baseline, funding_fast, "
        "momentum, breadth_dominance, volatility, weak_mix (docs/regimes.md)",
    )
    y.add_argument(
        "--caps",
        choices=["model", "long_tail"],
        default="model",
        help="market caps: the model's (every coin a contender) or a whole market's long tail "
        "(most coins far below the eligibility line), written chunk by chunk (no quirks)",
    )
    add_today(y)
    v = sub.add_parser(
        "verify",
        help="check an output root (or a lake the importers wrote) against its manifest",
    )
    v.add_argument("root", type=Path, help="an output root, or a lake written by `import`")
    v.add_argument("--quiet", action="store_true", help="problems only")
    add_today(v)
    from .sweep.command import add_arguments as sweep_arguments

    sweep_arguments(sub.add_parser("sweep", help="walk-forward runs over a grid of configs (Dask)"))
    from .lake.importers.check import add_parser as check_parser
    from .lake.importers.commands import add_parsers

    add_parsers(sub)  # import binance-klines | binance-funding | binance-metrics | coingecko
    check_parser(sub)
    from .lake.importers.update_command import add_parsers as update_parsers

    update_parsers(sub)  # update binance-archive | coingecko; mirror
    return ap


def _config(
    args: argparse.Namespace, progress: Progress | None = None, *, create: bool = True
) -> Config:
    """The command's configuration, its paths checked; ``create=False`` leaves an absent output
    root uncreated (the demo lake, which lives under it, creates it anyway)."""
    if args.demo and (args.lake is not None or args.duckdb is not None):
        raise demo_conflict("--demo", "--lake" if args.lake is not None else "--duckdb")
    cfg = load_config(args.config)
    cfg = cfg.with_overrides(lake=args.lake, duckdb=args.duckdb, output_root=args.output_root)
    from .lake.data_io import check_output_root, ensure_output_root

    if not args.demo:
        check_output_root(cfg.paths.output_root, cfg.paths.data_lake, cfg.paths.duckdb)
    ensure_output_root(cfg.paths.output_root, create=create or args.demo)
    if args.demo:
        lake_dir = ensure_demo_lake(cfg.paths.output_root, progress)
        paths = cfg.paths.model_copy(update={"data_lake": lake_dir, "duckdb": None})
        cfg = cfg.model_copy(update={"paths": paths})
    return cfg


def _freeze_imports() -> None:
    """Move what the imports created (modules, classes, numba's and pydantic's registries:
    objects that live as long as the process) out of the cyclic garbage collector's reach, so
    its full collections during the run do not walk them again (about 30 ms of a demo run).
    Once per process: a caller running several commands in one process (the tests) keeps its
    later garbage collectable. The ``run`` and ``signals`` entry points pause the collector
    while the modules load (see ``run_entry``); it resumes here, with a higher threshold for
    the youngest generation."""
    global _frozen, _gc_paused
    if not _frozen:
        gc.freeze()
        _frozen = True
    if _gc_paused:
        # one short-lived command from here: collect the youngest objects every 10,000
        # allocations instead of 700 (about 20 ms of a demo run; its cycles are few and small)
        gc.set_threshold(10_000, 10, 10)
        gc.enable()
        _gc_paused = False


_frozen = False
_gc_paused = False


def _modules_loaded() -> None:
    """What ``run`` and ``signals`` do once their modules are imported, before any work: answer
    numba's BLAS probe without scipy.linalg (``scipy_blas``), freeze the imports out of the
    garbage collector's reach (and resume it), and build numba's context in the background."""
    from .scipy_blas import load_cython_blas

    load_cython_blas()  # before numba's first call: its BLAS probe imports scipy.linalg
    _freeze_imports()
    _warm_numba_in_background()


def _warm_numba_in_background() -> None:
    """Build numba's compilation context in a daemon thread while this one reads the
    configuration and the lake. The first compiled call of a process builds it (numba's
    lowering modules and registries, LLVM's set-up: about 0.25 s of a warm demo run, the
    kernels themselves then load from numba's on-disk cache in milliseconds); here that overlaps
    the lake read, whose parquet decoding runs outside the GIL. The run's first kernel call
    waits for it if it is not done (numba's compiler lock), so nothing depends on the timing.
    The warm-up calls the first serial kernels of the run's preparation (the carry over gaps,
    the market-wide cap total, the universe's median volume, the features' row medians, the
    betas' winsorising) on tiny arrays of the argument types the run passes, so they load from
    the cache and nothing new is compiled; a failure is left to the run's own call to report."""

    threading.Thread(target=_warm_numba, name="numba-warm-up", daemon=True).start()


def _warm_numba() -> None:
    import numpy as np

    from .market.beta_neutral import winsorise
    from .market.rolling import carry_last, rolling_median
    from .market.row_median import row_nanmedian
    from .market.scope import _listed_caps

    for call in (
        lambda: carry_last(np.zeros((1, 1)), 1),
        lambda: _listed_caps(np.zeros((1, 1)), np.zeros((1, 1)), 0, 1, 1),
        lambda: rolling_median(np.zeros((1, 1)), 1, 1),
        lambda: row_nanmedian(np.zeros((1, 1))),
        lambda: winsorise(np.zeros((1, 1)), 10, 3.0),
    ):
        with contextlib.suppress(Exception):  # the run's own call reports it
            call()


def cmd_run(args: argparse.Namespace) -> int:
    from . import pipeline
    from .lake.data_io import lake_span
    from .morning.notify import record as record_alert
    from .publish.layout import writing_outputs
    from .report.freshness import refuse_future, run_freshness
    from .report.orders import size_signal
    from .report.summary import summary_text
    from .report.write import write_run

    _modules_loaded()
    refuse_future(args.end, clock.today(), option="--end")  # before any work: exit 2
    progress = Progress(args.quiet)
    capture = LogCapture()
    logging.getLogger("majors_alts_monitor").addHandler(capture)
    stack = contextlib.ExitStack()
    try:
        cfg = _config(args, progress)
        positions, source = _sizing(args, cfg)
        out = stack.enter_context(  # one writer per output root, every path checked
            writing_outputs(
                cfg.paths.output_root,
                lakes=[cfg.paths.data_lake],
                duckdb=cfg.paths.duckdb,
                command="run",
            )
        )
        reader = pipeline.make_reader(cfg)
        s0, e0 = lake_span(reader)
        start, end = args.start or s0, args.end or e0
        log.info(f"run {start}..{end}, lake {cfg.paths.data_lake}, config hash {cfg.hash()}")
        fresh = run_freshness(cfg, e0, args.end)  # no --end: today's run, checked
        res = pipeline.run(cfg, start, end, progress, fresh=fresh, reader=reader)
        size_signal(res.signal, args.capital, positions, args.min_order, source)
        record_alert(res.signal)  # for --notify (morning/notify.py)
        paths = write_run(res, cfg, log_text=capture.text, progress=progress, out=out)
    finally:
        stack.close()
        logging.getLogger("majors_alts_monitor").removeHandler(capture)
    return print_result(summary_text(res, paths, res.signal))  # the run's own labels


def cmd_signals(args: argparse.Namespace) -> int:
    from . import pipeline
    from .lake.data_io import ensure_output_root
    from .morning.issue import Issuing
    from .publish.layout import writing_outputs
    from .report.orders import size_signal
    from .report.signal_files import publish_signal
    from .report.summary import signal_text

    _modules_loaded()
    progress = Progress(args.quiet)
    cfg = _config(args, progress, create=False)  # a refused call creates no output root
    positions, source = _sizing(args, cfg)
    # no --asof: today's call, refused on a lake older than data.max_age_days (--allow-stale)
    reader = pipeline.make_reader(cfg)  # one generation of the lake for the whole command
    sig = pipeline.signal(
        cfg, args.asof, progress, start=args.start, allow_stale=args.allow_stale, reader=reader
    )
    size_signal(sig, args.capital, positions, args.min_order, source)
    # the ledger (morning/issue.py): orders against it
    issuing = Issuing(cfg, sig, args, reader=reader)
    lakes = [cfg.paths.data_lake]
    ensure_output_root(cfg.paths.output_root)  # the call is made: now the root may be created
    with writing_outputs(
        cfg.paths.output_root, lakes=lakes, duckdb=cfg.paths.duckdb, command="signals"
    ) as out:
        raise_if_interrupted()
        # its own record in signals/; signals_today.json only for the newest decision day
        placed = publish_signal(out, sig)
        issuing.record(out)  # appended to the ledger once the signal is published
    return print_result(signal_text(sig, placed.lines) + issuing.text())


def cmd_synth(args: argparse.Namespace) -> int:
    from .lake.synthetic import DESIGNS, synth_command

    if args.design not in DESIGNS:
        raise MonitorError(
            f"--design {args.design!r} is not a design. What to do: choose one of "
            f"{', '.join(DESIGNS)}"
        )

    quirks = frozenset(q.strip() for q in args.quirks.split(",") if q.strip())
    common = dict(
        seed=args.seed,
        world=args.world,
        n_assets=args.assets,
        start=args.start,
        end=args.end,
        quirks=quirks,
        partitioned=args.partitioned,
    )
    if args.caps == "long_tail":
        from .lake.synthetic.long_tail import long_tail_command

        lake_dir, truth_dir = long_tail_command(args.out_dir, **common)
    else:
        lake_dir, truth_dir = synth_command(args.out_dir, design=args.design, **common)
    return print_result(f"lake:  {lake_dir}\ntruth: {truth_dir}")


def cmd_verify(args: argparse.Namespace) -> int:
    from .morning.verify import verify

    rep = verify(args.root)
    lines = [] if args.quiet else [f"verify {args.root}", *(f"  ok  {x}" for x in rep.ok)]
    lines += [f"  PROBLEM  {x}" for x in rep.problems]
    if rep.problems:
        lines.append(
            f"{len(rep.problems)} problem(s): what readers see is not what its writer "
            "published. What to do: as each problem says, or run the command that writes it "
            "again"
        )
    code = print_result("\n".join(lines)) if lines else 0
    return 2 if rep.problems and code == 0 else code


def main(argv: list[str] | None = None) -> int:
    generations.reset()
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        setup_logging(getattr(args, "quiet", False))
        from .lake.importers.check import cmd_check_lake
        from .lake.importers.commands import cmd_import
        from .lake.importers.update_command import cmd_mirror, cmd_update
        from .sweep.command import cmd_sweep

        handlers = {"run": cmd_run, "signals": cmd_signals, "synth": cmd_synth, "sweep": cmd_sweep}
        handlers |= {"import": cmd_import, "check-lake": cmd_check_lake, "verify": cmd_verify}
        handlers |= {"update": cmd_update, "mirror": cmd_mirror}
        handlers |= _morning_handlers(handlers, parser)
        with sticky_sigint(), clock.pinned(getattr(args, "today", None)):
            return handlers[args.command](args)
    except MonitorError as err:
        print(f"error: {err}", file=sys.stderr)
        if wrote_anything():  # what was written before the failure, said truthfully
            print(f"note: {outputs_state()}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return _interrupted()
    except BrokenPipeError:  # standard output's reader went away: as SIGPIPE, quietly
        return closed_stdout()
    except Exception as err:  # noqa: BLE001 - the one place that maps surprises to exit 1
        if _caused_by_interrupt(err):
            return _interrupted()
        traceback.print_exc(file=sys.stderr)
        state = outputs_state()
        print(
            f"unexpected failure: {type(err).__name__}: {err}. {state[0].upper()}{state[1:]}. "
            "Please report it with the traceback above.",
            file=sys.stderr,
        )
        return 1


def _morning_handlers(handlers: dict, parser: argparse.ArgumentParser) -> dict:
    """``daily`` and ``ledger`` (``morning/commands.py``), and the alert (``--notify``) around
    ``run``, ``signals`` and ``daily`` (``morning/notify.py``)."""
    from .morning import commands as morning
    from .morning.notify import alerting

    steps = dict(handlers)
    return {
        "run": alerting("run", cmd_run),
        "signals": alerting("signals", cmd_signals),
        "daily": alerting("daily", lambda a: morning.cmd_daily(a, parser.parse_args, steps)),
        "ledger": lambda a: morning.cmd_ledger(a, _config(a)),
    }


INTERRUPTED = "interrupted; previous outputs are untouched"


def _interrupted() -> int:
    # objects left half-built by the interrupt (e.g. llvmlite's during a numba compile) may
    # complain from their finalisers at exit: noise after a Ctrl-C, not news
    sys.unraisablehook = lambda _unraisable: None
    state = f"interrupted; {outputs_state()}" if wrote_anything() else INTERRUPTED
    print(state, file=sys.stderr)
    return 130


def _caused_by_interrupt(err: BaseException) -> bool:
    return caused_by_interrupt(err)


def _exit_now(code: int) -> NoReturn:
    """End the process once a command has returned: its outputs are committed and fsynced,
    the output lock is released with the process, and the console streams and log handlers
    are flushed here (standard output that cannot be written, a full disk or a closed pipe,
    is reported and turns a success into exit 120, as Python's own exit does); the interpreter's own teardown (freeing every module's objects, stopping
    numba's thread pool, LLVM's: about 0.1 s of a warm demo run) is skipped."""
    logging.shutdown()
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away: as SIGPIPE, quietly
        code = closed_stdout() if code == 0 else code
    except (OSError, ValueError) as err:  # a full disk: as Python's own exit
        if code == 0:  # else the command has reported its failure already
            with contextlib.suppress(Exception):
                print(f"error: could not write to standard output: {err}", file=sys.stderr)
            code = 120
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    os._exit(code)


def _keep_freed_memory() -> None:
    """Ask glibc's allocator to serve large blocks from its heap and to keep freed memory for
    reuse (``mallopt``: mmap threshold 512 MiB, trim threshold 1 GiB) instead of mapping
    every large temporary array afresh and returning it on free: each new mapping is paid in
    page faults, and a run makes hundreds of multi-megabyte temporaries (bootstrap indices,
    trial returns, the kernel's outputs). About 0.25 s of a warm demo run on the 2-core
    benchmark machine, peak RSS about 15 MB higher. Process-wide, so only the ``run`` and
    ``signals`` entry points ask for it (short-lived processes); nothing happens on another
    C library."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    mallopt(m_mmap_threshold, 512 * 2**20)
    mallopt(m_trim_threshold, 1024 * 2**20)


def _entry(command: str, resume_gc: bool) -> None:
    """A ``python -m`` entry point: ``resume_gc``, the module paused the cyclic garbage
    collector before importing this one (loading numpy, polars, numba, pydantic and this
    package creates only objects that live as long as the process, and the collector's passes
    over them while they load cost about 0.07 s of a warm demo run); ``_freeze_imports``
    resumes it once the command's modules are in."""
    global _gc_paused
    _gc_paused = resume_gc
    _keep_freed_memory()
    _exit_now(main([command, *sys.argv[1:]]))


def run_entry(resume_gc: bool = False) -> None:
    """``python -m majors_alts_monitor.run`` (see ``_entry``)."""
    _entry("run", resume_gc)


def signals_entry(resume_gc: bool = False) -> None:
    """``python -m majors_alts_monitor.signals`` (see ``_entry``)."""
    _entry("signals", resume_gc)
