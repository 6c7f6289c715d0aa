"""What every command shares: the date arguments (``--today`` pins the one clock), progress and
logging on the console, the run log kept for the artifacts, standard output that may be closed,
and what the command has published (so a failure or a Ctrl-C after that point says where the
outputs are instead of "untouched")."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
from datetime import date

from .interrupts import raise_if_interrupted
from .publish.generations import kept, published
from .publish.layout import shown_path

log = logging.getLogger("majors_alts_monitor")


def parse_date(s: str) -> date:
    try:
        return date.fromisoformat(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not a date in YYYY-MM-DD form") from None


def add_today(p: argparse.ArgumentParser) -> None:
    """``--today YYYY-MM-DD``: what "today" is for this command (UTC today by default): rows
    dated after it are refused, staleness is measured from it (tests, backfills, replays)."""
    p.add_argument(
        "--today",
        type=parse_date,
        default=None,
        help="pin today's date (default: today in UTC); rows dated after it are left out",
    )


class Progress:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.t0 = time.time()
        self.console = None
        if sys.stderr.isatty() and not quiet:
            from rich.console import Console

            self.console = Console(stderr=True)

    def __call__(self, msg: str) -> None:
        raise_if_interrupted()  # a stage boundary: a swallowed Ctrl-C stops the run here
        log.debug(msg)
        if self.quiet:
            return
        el = time.time() - self.t0
        if self.console is not None:
            self.console.print(f"[dim]{el:6.1f}s[/dim] [bold cyan]>[/bold cyan] {msg}")
        else:
            print(f"[{el:6.1f}s] {msg}", file=sys.stderr, flush=True)


class LogCapture(logging.Handler):
    """Keeps every record of the run in memory for artifacts/majors_alts/run.log."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S")
        )

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


class StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time of the record (not the stream of the
    first call: a replaced and closed stream would otherwise raise on every later record)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # noqa: BLE001 - logging's own contract: report, never raise
            self.handleError(record)


def setup_logging(quiet: bool) -> None:
    root = logging.getLogger("majors_alts_monitor")
    root.setLevel(logging.DEBUG)
    h = next((h for h in root.handlers if isinstance(h, StderrHandler)), None)
    if h is None:
        h = StderrHandler()
        h.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        root.addHandler(h)
    h.setLevel(logging.WARNING if quiet else logging.INFO)
    root.propagate = False


SIGPIPE_EXIT = 141  # what a shell reports for a process ended by SIGPIPE (128 + 13)


def print_result(text: str) -> int:
    """The command's summary on standard output, after its outputs are published: 0; on a
    closed pipe (``| head``, ``| true``) a quiet 141, as a process ended by SIGPIPE; 120 (as
    Python's own exit when it cannot flush) with a note on stderr when it cannot be written
    otherwise (a full disk)."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        return closed_stdout()
    except (OSError, ValueError) as err:
        with contextlib.suppress(Exception):
            print(f"error: could not write to standard output: {err}", file=sys.stderr)
        return 120
    return 0


def closed_stdout() -> int:
    """Standard output's reader went away: nothing more is written to it (later flushes go to
    /dev/null, so the interpreter does not complain at exit) and the exit is quiet."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return SIGPIPE_EXIT


def outputs_state() -> str:
    """What readers see after this command, for its failure and interrupted messages: the last
    set it switched in, and every file it wrote outside the generations (a signal's record in
    ``signals/``, a ledger record), or that previous outputs are untouched."""
    parts = []
    if published:
        p = published[-1]
        parts.append(
            f"this command's outputs were already written under {p.where}, whole "
            f"(generation {p.generation})"
        )
    if kept:
        parts.append(
            "it wrote, whole, outside the generations (folders that accumulate): "
            + ", ".join(str(shown_path(k)) for k in dict.fromkeys(kept))
        )
    return "; ".join(parts) if parts else "previous outputs are untouched"


def wrote_anything() -> bool:
    """Whether this command published a set or wrote a file outside the generations."""
    return bool(published or kept)
