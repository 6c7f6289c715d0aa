"""The documented Python entry points, for notebooks and scripts.

```python
from majors_alts_monitor import api

res = api.run(lake="../shared/data/real_binance", start="2021-01-01")
res.timeline.tail()            # polars frames: timeline, pnl, equity, features, trials, ...
res.kpis["walk_forward"]["oos_sharpe"]
res.signal["regime"]           # what signals_today.json would say for the run's last day
res.write("out")               # the files `majors-alts run --output-root out` writes

api.signal(asof="2024-06-30", lake="../shared/data/real_binance")   # signals_today.json, as a dict
api.load_lake("../shared/data/real_binance", start="2024-01-01").tables["fact_price"]
```

Nothing is written unless asked (``RunOutput.write``). Configuration and data are validated
exactly as by the command line and the same exceptions are raised: a ``ConfigError`` names the
configuration key, a ``LakeError`` the table, column and first offending key (all are
``MonitorError``; the CLI maps them to exit code 2). ``config`` is ``None`` (the packaged
defaults), a path to a YAML file, a ``Config``, or a mapping of dotted keys to values applied
over the packaged defaults (``{"universe.basket_size": 10, "regime.mode": "hmm"}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from . import clock, pipeline
from .backtest.stages import RunResult
from .config import Config, apply_overrides, load_config
from .lake.data_io import LakeData, check_output_root, lake_span
from .lake.demo import ensure_demo_lake
from .report.freshness import refuse_future, run_freshness

__all__ = ["RunOutput", "demo_lake", "load_lake", "resolve_config", "run", "signal"]

ConfigLike = Config | Mapping[str, Any] | str | Path | None
DateLike = date | str | None


def resolve_config(
    config: ConfigLike = None,
    *,
    lake: str | Path | None = None,
    duckdb: str | Path | None = None,
    output_root: str | Path | None = None,
) -> Config:
    """The validated configuration the other entry points use: ``config`` as described in the
    module docstring, with the lake, DuckDB file and output root overridden when given (as the
    CLI's ``--lake``, ``--duckdb`` and ``--output-root``)."""
    if config is None or isinstance(config, str | Path):
        cfg = load_config(config)
    elif isinstance(config, Config):
        cfg = config
    elif isinstance(config, Mapping):
        cfg = apply_overrides(load_config(None), dict(config), source="api config overrides")
    else:
        raise TypeError(
            "config must be None, a path, a Config or a mapping of dotted keys, "
            f"not {type(config).__name__}"
        )
    return cfg.with_overrides(
        lake=_path(lake), duckdb=_path(duckdb), output_root=_path(output_root)
    )


@dataclass(frozen=True)
class RunOutput:
    """A run's results in memory: the frames and records the run's files are made of
    (``docs/outputs.md`` gives every column and key)."""

    timeline: pl.DataFrame  # regime_timeline.csv
    features: pl.DataFrame  # features_wide.parquet
    pnl: pl.DataFrame  # bt_daily_pnl.csv
    equity: pl.DataFrame  # bt_equity_curve.csv
    regime_metrics: pl.DataFrame  # regime_metrics.csv
    trials: pl.DataFrame  # artifacts/.../trials.parquet
    attribution: pl.DataFrame | None  # pnl_attribution.csv
    kpis: dict  # kpis.json (without the run id, which is given when the files are written)
    signal: dict  # signals_today.json for the run's last day
    folds: list[dict]  # fold_params.json
    manifest: dict  # run_manifest.json (without the files' hashes)
    warnings: tuple[str, ...]
    config: Config
    result: RunResult = field(repr=False)

    def write(self, output_root: str | Path) -> Path:
        """Write the run's files under ``output_root`` exactly as ``majors-alts run
        --output-root`` does (same names, bytes and publication: under the root's lock,
        atomically; never inside the lake) and return the reports folder."""
        from .report.write import write_run

        root = Path(output_root)
        cfg = self.config.with_overrides(output_root=root)
        return write_run(self.result, cfg).reports


def run(
    lake: str | Path | None = None,
    start: DateLike = None,
    end: DateLike = None,
    config: ConfigLike = None,
    *,
    duckdb: str | Path | None = None,
) -> RunOutput:
    """The walk-forward run of ``majors-alts run`` over ``[start, end]`` (default: the lake's
    span), in memory. ``lake`` overrides the configuration's ``paths.data_lake``."""
    cfg = resolve_config(config, lake=lake, duckdb=duckdb)
    check_output_root(cfg.paths.output_root, cfg.paths.data_lake, cfg.paths.duckdb)
    asked = _date(end, "end")
    refuse_future(asked, clock.today(), option="--end")  # before any work, as `run`
    reader = pipeline.make_reader(cfg)  # one generation of the lake for the whole run
    s0, e0 = lake_span(reader)
    fresh = run_freshness(cfg, e0, asked)  # no end: today's run, as `majors-alts run`
    res = pipeline.run(cfg, _date(start, "start") or s0, asked or e0, fresh=fresh, reader=reader)
    return RunOutput(
        timeline=res.timeline,
        features=res.features,
        pnl=res.pnl,
        equity=res.equity,
        regime_metrics=res.regime_metrics,
        trials=res.trials,
        attribution=res.attribution,
        kpis=res.kpis,
        signal=res.signal,
        folds=res.folds,
        manifest=res.manifest,
        warnings=res.warnings,
        config=cfg,
        result=res,
    )


def signal(
    asof: DateLike = None,
    lake: str | Path | None = None,
    config: ConfigLike = None,
    *,
    start: DateLike = None,
    allow_stale: bool = False,
    duckdb: str | Path | None = None,
) -> dict:
    """Tomorrow's signal of ``majors-alts signals --asof``: the ``signals_today.json`` record
    from data dated ``<= asof`` only (default: the lake's last date, today's call: refused
    with a ``MonitorError`` when the lake is older than ``data.max_age_days``, unless
    ``allow_stale``). ``start`` is the origin of the fold schedule (pass a run's ``start`` to
    reproduce its regime for that day)."""
    cfg = resolve_config(config, lake=lake, duckdb=duckdb)
    day = _date(asof, "asof")
    return pipeline.signal(cfg, day, start=_date(start, "start"), allow_stale=allow_stale)


def load_lake(
    lake: str | Path | None = None,
    start: DateLike = None,
    end: DateLike = None,
    config: ConfigLike = None,
    *,
    duckdb: str | Path | None = None,
) -> LakeData:
    """The lake's tables for ``[start, end]`` (default: everything), validated as the run
    validates them: symbols normalised, duplicates and stablecoins removed (``.tables`` maps
    each table name to a polars frame of every asset; ``.warnings`` and ``.notes`` say what was
    dropped and why). A run keeps only its candidates' rows (docs/scale.md)."""
    cfg = resolve_config(config, lake=lake, duckdb=duckdb)
    return pipeline.make_reader(cfg).read(_date(start, "start"), _date(end, "end"))


def demo_lake(output_root: str | Path = ".") -> Path:
    """The synthetic demo lake's folder (the one ``--demo`` uses), generated once under
    ``output_root/cache/``: a lake with a planted regime to try everything without data."""
    return ensure_demo_lake(Path(output_root), lambda _msg: None)


def _path(p: str | Path | None) -> Path | None:
    return Path(p) if p is not None else None


def _date(d: DateLike, name: str) -> date | None:
    if d is None or isinstance(d, date):
        return d
    try:
        return date.fromisoformat(str(d))
    except ValueError:
        from .errors import ConfigError

        raise ConfigError(f"{name} {d!r} is not a date in YYYY-MM-DD form") from None
