"""``majors-alts daily`` (update the lake, issue today's signal, record it, alert) and
``majors-alts ledger`` (the issued calls against the backtest, and their P&L).

``daily`` runs its steps in order and goes on after a failed update (the lake is then as it
was, and the signal's own freshness rules say whether it may be issued); its exit code is the
most severe of its steps' (``SEVERITY``, docs/commands.md)."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from ..errors import MonitorError
from ..interrupts import caused_by_interrupt, raise_if_interrupted
from ..shell import outputs_state, parse_date, print_result, wrote_anything
from . import notify

# most severe first: interrupted, unexpected failure, output not written, bad input or
# configuration, a source unreadable (try later), the alert not posted, success
SEVERITY = (130, 1, 120, 2, 75, 3, 141, 0)


def worst(codes: list[int]) -> int:
    """The most severe exit code of ``codes`` (unknown codes rank as 1)."""
    rank = {c: i for i, c in enumerate(SEVERITY)}
    return min(codes, key=lambda c: rank.get(c, rank[1])) if codes else 0


def add_parsers(
    sub: argparse._SubParsersAction,
    common: Callable[..., None],
    book_options: Callable[[argparse.ArgumentParser], None],
) -> None:
    d = sub.add_parser(
        "daily",
        help="the morning in one command: update the lake, today's signal, the ledger, the alert",
    )
    common(d, demo=False)  # daily updates a lake you own: never the demo's
    book_options(d)
    notify.add_arguments(d)
    d.add_argument(
        "--start",
        type=parse_date,
        default=None,
        help="origin of the walk-forward fold schedule (as signals --start)",
    )
    d.add_argument(
        "--allow-stale", action="store_true", help="as signals --allow-stale (passed on)"
    )
    g = d.add_argument_group("the update step")
    g.add_argument(
        "--no-update",
        action="store_true",
        help="skip the update: issue the signal from the lake as it is",
    )
    g.add_argument(
        "--base-url",
        default=None,
        help="the Binance archive or a mirror in its layout (update binance-archive --base-url; "
        "default the public archive)",
    )
    g.add_argument("--listing-url", default=None, help="as update binance-archive --listing-url")
    g.add_argument("--cache", type=Path, default=None, help="as update binance-archive --cache")
    g.add_argument(
        "--coingecko-base-url",
        default=None,
        help="CoinGecko's API root or a mirror's (update coingecko --base-url); the market caps "
        "are updated when the lake's manifest knows coin ids (an earlier update coingecko)",
    )
    g.add_argument(
        "--update-args",
        default="",
        help="more options for update binance-archive, one quoted string (e.g. "
        '"--partial-days keep --jobs 4")',
    )
    lg = sub.add_parser(
        "ledger", help="the issued signals against what the backtest now says, and their P&L"
    )
    common(lg)
    lg.add_argument(
        "--start",
        type=parse_date,
        default=None,
        help="origin of the backtest's fold schedule (default: the lake's first date, as run)",
    )
    lg.add_argument("--json", action="store_true", help="print the report as JSON")


def _coingecko_known(lake: Path) -> bool:
    from ..lake.importers import manifest as mf
    from ..lake.importers.common import snapshot

    try:
        m = mf.load(snapshot(lake))
    except (OSError, ValueError, MonitorError):
        return False
    return any(e.get("coin_id") for e in mf.symbols(m, mf.COINGECKO).values())


def _step(name: str, fn: Callable[[], int], codes: dict[str, int]) -> None:
    """Run one step; a failure (an error, or an unexpected one: exit 1 with its traceback) is
    said and recorded, and the morning goes on. A Ctrl-C stops it."""
    raise_if_interrupted()
    try:
        codes[name] = fn()
    except MonitorError as err:
        print(f"error: {name}: {err}", file=sys.stderr, flush=True)
        _note_written()
        codes[name] = err.exit_code
        notify.note_failure(name, str(err))
    except Exception as err:  # noqa: BLE001 - a step's surprise must not stop the morning
        if caused_by_interrupt(err):
            raise
        traceback.print_exc(file=sys.stderr)
        what = f"unexpected failure: {type(err).__name__}: {err}"
        print(
            f"error: {name}: {what}. Please report it with the traceback above; the next steps "
            "run all the same",
            file=sys.stderr,
            flush=True,
        )
        _note_written()
        codes[name] = 1
        notify.note_failure(name, what)


def _note_written() -> None:
    """After a failed step: what this morning wrote so far (sets and records), truthfully."""
    if wrote_anything():
        print(f"note: so far {outputs_state()}", file=sys.stderr, flush=True)


def cmd_daily(
    args: argparse.Namespace,
    parse: Callable[[list[str]], argparse.Namespace],
    handlers: dict[str, Callable[[argparse.Namespace], int]],
) -> int:
    """Update (``binance-archive``, then ``coingecko`` when the lake knows coin ids), then
    ``signals`` without ``--asof`` (recorded in the ledger as issued by ``daily``); the alert
    is posted by ``notify.alerting`` around this command."""
    if args.lake is None:
        raise MonitorError(
            "daily needs --lake LAKE: the lake you own, written by majors-alts import, which "
            "it updates before issuing the signal (see docs/morning.md)"
        )
    codes: dict[str, int] = {}
    today = ["--today", args.today.isoformat()] if args.today else []
    config = ["--config", str(args.config)] if args.config else []
    if not args.no_update:
        up = ["update", "binance-archive", "--out", str(args.lake), *today, *config]
        up += ["--base-url", args.base_url] if args.base_url else []
        up += ["--listing-url", args.listing_url] if args.listing_url else []
        up += ["--cache", str(args.cache)] if args.cache else []
        up += shlex.split(args.update_args)
        _step("update binance-archive", lambda: handlers["update"](parse(up)), codes)
        if _coingecko_known(args.lake):
            cg = ["update", "coingecko", "--out", str(args.lake), *today, *config]
            cg += ["--base-url", args.coingecko_base_url] if args.coingecko_base_url else []
            _step("update coingecko", lambda: handlers["update"](parse(cg)), codes)
    sg = ["signals", "--lake", str(args.lake), *today, *config]
    sg += ["--output-root", str(args.output_root)] if args.output_root else []
    sg += ["--duckdb", str(args.duckdb)] if args.duckdb else []
    sg += ["--start", args.start.isoformat()] if args.start else []
    sg += ["--allow-stale"] if args.allow_stale else []
    sg += ["--quiet"] if args.quiet else []
    if args.capital is not None:
        sg += ["--capital", repr(args.capital), "--min-order", repr(args.min_order)]
        sg += ["--positions", str(args.positions)] if args.positions else []

    def signals() -> int:
        ns = parse(sg)
        ns.issued_by = "daily"
        return handlers["signals"](ns)

    _step("signals", signals, codes)
    notify.record_steps(codes)
    code = worst(list(codes.values()))
    steps = ", ".join(f"{k} {v}" for k, v in codes.items())
    print(f"daily: exit {code} (steps: {steps})", file=sys.stderr, flush=True)
    return code


def cmd_ledger(args: argparse.Namespace, cfg) -> int:
    from ..shell import Progress
    from . import ledger, ledger_report

    folder = ledger.ledger_dir(cfg.paths.output_root)
    records = ledger.read(folder)
    if not records:
        left = folder.is_dir() and any(n.endswith(".json") for n in os.listdir(folder))
        why = (
            "its files are no whole record: each is left out, see the warnings above"
            if left
            else "empty or absent"
        )
        raise MonitorError(
            f"no ledger under {cfg.paths.output_root} (reports/majors_alts/ledger/: {why}). "
            "What to do: issue signals with majors-alts signals or daily into this "
            "--output-root first"
        )
    rep = ledger_report.build(cfg, records, args.start, Progress(args.quiet or args.json))
    if args.json:
        return print_result(json.dumps(rep, indent=1, default=str))
    shown = Path(cfg.paths.output_root) / "reports" / "majors_alts" / "ledger"
    return print_result(ledger_report.text(rep, str(shown)))
