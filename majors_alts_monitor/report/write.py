"""Writing a run's outputs: the dashboard rendered, every file rendered in memory, then
published as one new set of the output root (``publish.layout``: under the root's lock, switched
in by one rename, every path checked against the lake). ``majors-alts run`` and
``api.RunOutput.write`` call this one function, so both write the same files."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from ..backtest.stages import RunResult
from ..config import Config
from ..interrupts import raise_if_interrupted
from ..publish.layout import OutputRoot, writing_outputs
from .outputs import OutputPaths, render_run_files
from .signal_files import TODAY_FILE, run_signal_entry
from .summary import dashboard_html

log = logging.getLogger("majors_alts_monitor")


def write_run(
    res: RunResult,
    cfg: Config,
    *,
    log_text: Callable[[], str] = str,
    progress: Callable[[str], None] | None = None,
    out: OutputRoot | None = None,
) -> OutputPaths:
    """Render ``res`` and publish it under ``cfg.paths.output_root``. ``log_text`` gives the
    run's log for ``run.log`` when the files are rendered (its last lines are this function's);
    ``out``: the root, already held for writing by the caller (the CLI takes it before reading
    the lake); without it the root is taken here."""
    if out is None:
        with writing_outputs(
            cfg.paths.output_root,
            lakes=[cfg.paths.data_lake],
            duckdb=cfg.paths.duckdb,
            command="run",
        ) as held:
            return write_run(res, cfg, log_text=log_text, progress=progress, out=held)
    timings = res.manifest["timings_s"]
    t = time.time()
    if progress is not None:
        progress("rendering the dashboard")
    html = dashboard_html(res, cfg)
    timings["dashboard"] = round(time.time() - t, 3)
    paths = OutputPaths(cfg.paths.output_root)
    res.manifest["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    log.info(f"writing outputs under {paths.root.resolve()}")
    # a newer call in signals_today.json stays (report/signal_files.py)
    kept, note = run_signal_entry(out, res.signal) if res.signal else (None, None)
    if note:
        log.warning(note)
    files: dict = render_run_files(
        res, dashboard_html=html, log_text=log_text(), with_signal=kept is None
    )
    if kept is not None:
        files[TODAY_FILE] = kept
    raise_if_interrupted()  # nothing is written by an interrupted run
    out.publish_run(files, command="run")
    return paths
