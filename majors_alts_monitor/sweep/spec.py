"""SWEEP.yaml: a base configuration, a grid of overrides on dotted config keys, and where and
over which window to run. Every point is validated by the same pydantic ``Config`` as a run, so
an unknown key or a bad value is an error (exit 2) naming the key and the point."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from ..config import DEFAULT_CONFIG_PATH, Config, get_dotted, parse_config, read_yaml, set_dotted
from ..errors import ConfigError
from .inert import effective_hash, trial0_keys, unread, why_equal

SPEC_KEYS = {
    "base_config": "path of the base config YAML, relative to the sweep file (null: packaged)",
    "grid": "mapping of dotted config keys to lists of values; the sweep is their product",
    "points": "optional list of mappings of dotted keys to values, appended after the grid",
    "lake": "paths.data_lake for every point, relative to the sweep file",
    "duckdb": "paths.duckdb for every point, relative to the sweep file",
    "output_root": "where reports/majors_alts/sweep/ goes, relative to the sweep file",
    "demo": "true: use the synthetic demo lake under <output_root>/cache/",
    "start": "first day of every run (YYYY-MM-DD; default: the lake's first day)",
    "end": "last day of every run (YYYY-MM-DD; default: the lake's last day)",
    "write_reports": "true: also write each point's full report set under sweep/points/",
}


@dataclass(frozen=True)
class Point:
    """One distinct configuration of the sweep: its id (position among the distinct points of
    the expansion; duplicates are collapsed, see ``Duplicate``), the overrides as written, the validated config and the resolved value of every swept key."""

    id: int
    overrides: dict[str, Any]
    config: Config
    values: dict[str, Any]  # every swept key -> resolved value in this point's config
    # hash of the configuration less the keys its run does not read, and less what only sets
    # the composite search's trial 0: points with one ``search_hash`` share every other trial
    search_hash: str = ""


@dataclass(frozen=True)
class Duplicate:
    """An entry of the expansion that is an earlier point's configuration (the same config
    hash, or the same once the keys its run does not read are left out, ``inert.py``):
    collapsed into that point, so it never runs and never counts as a trial."""

    entry: int  # position in the expansion (grid product, then ``points``)
    overrides: dict[str, Any]
    duplicate_of: int  # the point id it equals
    config_hash: str
    why: str = "the same configuration (same config hash)"


@dataclass(frozen=True)
class SweepSpec:
    source: Path
    base_config: Path
    keys: tuple[str, ...]  # every swept key, in order of first appearance
    points: tuple[Point, ...]
    lake: Path | None
    duckdb: Path | None
    output_root: Path | None
    demo: bool
    start: date | None
    end: date | None
    write_reports: bool
    duplicates: tuple[Duplicate, ...] = ()
    warnings: tuple[str, ...] = ()  # swept keys that cannot matter, or only set trial 0

    def hash(self) -> str:
        """sha256 (16 hex) over the points' config hashes, in point order."""
        blob = json.dumps([p.config.hash() for p in self.points])
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _err(source: Path, msg: str) -> ConfigError:
    return ConfigError(f"invalid sweep file {source}: {msg}")


def _date(v: Any, key: str, source: Path) -> date | None:
    if v is None or isinstance(v, date):
        return v
    try:
        return date.fromisoformat(str(v))
    except ValueError:
        raise _err(source, f"'{key}' must be a date in YYYY-MM-DD form (got {v!r})") from None


def _bool(raw: dict[str, Any], key: str, source: Path) -> bool:
    v = raw.get(key, False)
    if not isinstance(v, bool):
        raise _err(
            source,
            f"'{key}' must be true or false (a YAML boolean, unquoted; got {v!r})",
        )
    return v


def _path(v: Any, key: str, source: Path) -> Path | None:
    if v is None:
        return None
    if not isinstance(v, str):
        raise _err(source, f"'{key}' must be a path (got {v!r})")
    p = Path(v).expanduser()
    return p if p.is_absolute() else source.parent / p


def expand(grid: dict[str, list[Any]], points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The grid's product (last key varying fastest, keys in the file's order), then ``points``."""
    keys = list(grid)
    out = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]
    if not keys:
        out = []
    return out + [dict(p) for p in points]


def load_sweep(path: Path | str) -> SweepSpec:
    """Read, expand and validate a sweep file (every point's config is built here, in the
    client, so a bad point fails before anything runs)."""
    source = Path(path)
    if not source.is_file():
        raise ConfigError(f"sweep file {source} not found. What to do: pass an existing YAML file")
    raw = read_yaml(source, "sweep file")
    if not isinstance(raw, dict):
        raise _err(source, "the top level must be a mapping with at least 'grid' or 'points'")
    unknown = sorted(set(raw) - set(SPEC_KEYS))
    if unknown:
        raise _err(source, f"unknown key(s) {unknown}; the keys are {sorted(SPEC_KEYS)}")
    grid = raw.get("grid") or {}
    extra = raw.get("points") or []
    if not isinstance(grid, dict):
        raise _err(source, "'grid' must map dotted config keys to lists of values")
    for k, v in grid.items():
        if not isinstance(v, list) or not v:
            raise _err(source, f"grid key '{k}' must have a non-empty list of values (got {v!r})")
    if not isinstance(extra, list) or not all(isinstance(p, dict) for p in extra):
        raise _err(source, "'points' must be a list of mappings of dotted config keys to values")
    base = _path(raw.get("base_config"), "base_config", source) or DEFAULT_CONFIG_PATH
    if not base.is_file():
        raise _err(source, f"base_config {base} not found")
    base_raw = read_yaml(base) or {}
    if not isinstance(base_raw, dict):
        raise ConfigError(f"invalid configuration in {base}: the top level must be a mapping")
    # the size, counted before anything is expanded (a 64-million-point grid is refused at once)
    limit = parse_config(copy.deepcopy(base_raw), str(base)).limits.sweep_points_max
    size = (math.prod(len(v) for v in grid.values()) if grid else 0) + len(extra)
    if size > limit:
        raise _err(
            source,
            f"{size:,} points (the grid's product plus 'points') is more than "
            f"limits.sweep_points_max = {limit:,}. What to do: sweep fewer values (or split the "
            f"sweep), or raise limits.sweep_points_max in the base config {base} if you mean it",
        )
    overrides = expand(grid, extra)
    if not overrides:
        raise _err(source, "no points: give 'grid' (key: [values]) or 'points' (a list)")
    keys: list[str] = []
    for ov in overrides:
        keys += [k for k in ov if k not in keys]
    write_reports = _bool(raw, "write_reports", source)
    pts: list[Point] = []
    dups: list[Duplicate] = []
    by_hash: dict[str, int] = {}
    by_effect: dict[str, int] = {}
    for i, ov in enumerate(overrides):
        cfg_raw = copy.deepcopy(base_raw)
        where = f"{source} point {i} {json.dumps(ov, default=str)}"
        for k, v in ov.items():
            set_dotted(cfg_raw, str(k), v, where)
        cfg = parse_config(cfg_raw, where)
        h = cfg.hash()
        if h in by_hash:  # same configuration as an earlier point: one trial, run once
            dups.append(Duplicate(i, ov, by_hash[h], h))
            continue
        e = effective_hash(cfg, write_reports)
        if e in by_effect:  # differs only where the run does not read: the same run
            j = by_effect[e]
            dups.append(Duplicate(i, ov, j, h, why_equal(pts[j].config, cfg, write_reports)))
            continue
        by_hash[h] = by_effect[e] = len(pts)
        resolved = cfg.resolved()
        pts.append(
            Point(
                len(pts),
                ov,
                cfg,
                {k: get_dotted(resolved, k) for k in keys},
                effective_hash(cfg, write_reports, trial0=True),
            )
        )
    return SweepSpec(
        source=source,
        base_config=base,
        keys=tuple(keys),
        points=tuple(pts),
        lake=_path(raw.get("lake"), "lake", source),
        duckdb=_path(raw.get("duckdb"), "duckdb", source),
        output_root=_path(raw.get("output_root"), "output_root", source),
        demo=_bool(raw, "demo", source),
        start=_date(raw.get("start"), "start", source),
        end=_date(raw.get("end"), "end", source),
        write_reports=write_reports,
        duplicates=tuple(dups),
        warnings=key_warnings(keys, [p.config for p in pts], dups, write_reports),
    )


def key_warnings(
    keys: list[str], configs: list[Config], dups: list[Duplicate], write_reports: bool
) -> tuple[str, ...]:
    """One warning per swept key that no point reads (its values were collapsed), and per key
    that only sets the composite search's trial 0 (its points share every other trial)."""
    out = []
    for k in keys:
        per = [
            [u.why for u in unread(c, write_reports) if k == u.key or k.startswith(u.key + ".")]
            for c in configs
        ]
        if configs and all(per):  # no point reads it
            n = sum(1 for d in dups if k in d.why)
            out.append(
                f"sweep key {k} cannot matter: {'; '.join(sorted({w for ws in per for w in ws}))}"
                f". Its values are one configuration ({n} entries collapsed, run once, counted "
                "once in the sweep's statistics)"
            )
            continue
        if any(k in trial0_keys(c) for c in configs):
            out.append(
                f"sweep key {k} only sets the composite search's trial 0 (the config's own "
                "parameters, one of regime.grid.max_sets parameter sets); the sets the search "
                "picks from come from regime.grid (min_dwells, bands, lower_thresholds, "
                "upper_thresholds, weight_values): points that differ only there share every "
                "other trial, counted once in the sweep-level deflated Sharpe"
            )
    return tuple(out)


def with_paths(
    spec: SweepSpec,
    lake: Path | None = None,
    duckdb: Path | None = None,
    output_root: Path | None = None,
) -> SweepSpec:
    """Every point's ``paths`` set from the command line, else from the sweep file."""
    lake, duckdb = lake or spec.lake, duckdb or spec.duckdb
    output_root = output_root or spec.output_root
    pts = tuple(
        replace(
            p, config=p.config.with_overrides(lake=lake, duckdb=duckdb, output_root=output_root)
        )
        for p in spec.points
    )
    return replace(spec, points=pts, lake=lake, duckdb=duckdb, output_root=output_root)


def with_demo_lake(spec: SweepSpec, lake_dir: Path) -> SweepSpec:
    """Every point reads the demo lake (no DuckDB fallback)."""
    pts = tuple(
        replace(
            p,
            config=p.config.model_copy(
                update={
                    "paths": p.config.paths.model_copy(
                        update={"data_lake": lake_dir, "duckdb": None}
                    )
                }
            ),
        )
        for p in spec.points
    )
    return replace(spec, points=pts, lake=lake_dir, duckdb=None)
