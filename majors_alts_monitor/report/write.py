"""Writing a run's outputs: the dashboard rendered, every file rendered in memory, then
committed under the output root's lock (``outputs.write_all``). ``majors-alts run`` and
``api.RunOutput.write`` call this one function, so both write the same files."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from ..backtest.stages import RunResult
from ..config import Config
from ..interrupts import raise_if_interrupted
from ..lake.data_io import check_output_root, ensure_output_root
from .outputs import OutputPaths, output_lock, render_run_files, write_all
from .summary import dashboard_html

log = logging.getLogger("majors_alts_monitor")


def write_run(
    res: RunResult,
    cfg: Config,
    *,
    log_text: Callable[[], str] = str,
    progress: Callable[[str], None] | None = None,
    locked: bool = False,
) -> OutputPaths:
    """Render and commit ``res`` under ``cfg.paths.output_root``. ``log_text`` gives the run's
    log for ``run.log`` when the files are rendered (its last lines are this function's);
    ``locked``: the caller already holds the root's lock (the CLI takes it before reading the
    lake)."""
    root = cfg.paths.output_root
    check_output_root(root, cfg.paths.data_lake, cfg.paths.duckdb)
    ensure_output_root(root)
    timings = res.manifest["timings_s"]
    t = time.time()
    if progress is not None:
        progress("rendering the dashboard")
    html = dashboard_html(res, cfg)
    timings["dashboard"] = round(time.time() - t, 3)
    paths = OutputPaths(root)
    res.manifest["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    log.info(f"writing outputs under {paths.root.resolve()}")
    files = render_run_files(paths, res, dashboard_html=html, log_text=log_text())
    raise_if_interrupted()  # nothing is written by an interrupted run
    if locked:
        write_all(files)
    else:
        with output_lock(root):
            write_all(files)
    return paths
