"""Writing a synthetic lake and its truth (atomic, beside each other, never one inside the
other) and the ``majors-alts synth`` command."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import polars as pl

from ...errors import OutputLocationError
from .model import (
    _FACT_TABLES,
    _SPEC_FILE,
    DESIGNS,
    GENERATOR,
    GENERATOR_VERSION,
    SyntheticLake,
    SyntheticSpec,
    World,
)
from .simulate import generate

# --- writing ----------------------------------------------------------------------------------


def _write_parquet(df: pl.DataFrame, path: Path) -> None:
    """Write to a temporary name beside ``path``, then rename into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        df.write_parquet(tmp, statistics=True)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _is_ours(out_dir: Path) -> bool:
    spec_file = out_dir / "truth" / _SPEC_FILE
    try:
        return json.loads(spec_file.read_text()).get("generator") == GENERATOR
    except (OSError, ValueError, AttributeError):
        return False


def is_synthetic_lake(lake_dir: Path | None) -> bool:
    """Whether ``lake_dir`` was written by this generator: it says so itself, with the truth's
    ``spec.json`` (``generator``) beside the lake folder (``write_lake``). Its calendar is the
    spec's, not today's (``report.freshness``)."""
    if lake_dir is None:
        return False
    lake_dir = Path(lake_dir)
    return lake_dir.name == "lake" and _is_ours(lake_dir.parent)


def write_lake(
    lake: SyntheticLake, out_dir: Path, *, partitioned: bool = False
) -> tuple[Path, Path]:
    """Writes tables to out_dir/'lake' and truth to out_dir/'truth' (beside the lake, never inside it).

    partitioned=True writes each fact table as a hive folder NAME/year=YYYY/part-0.parquet;
    otherwise NAME.parquet. Returns (lake_dir, truth_dir). Files are written to a temp name and
    renamed (atomic): the whole lake is built in a hidden staging folder inside ``out_dir`` and
    renamed into place, so a reader never sees half a lake. An existing ``lake``/``truth`` pair
    is replaced only if it was written by this generator; anything else is refused.
    """

    def fill(new_lake: Path, new_truth: Path) -> None:
        for name, df in lake.tables.items():
            if partitioned and name in _FACT_TABLES:
                years = df.get_column("date").dt.year()
                for year in years.unique().sort().to_list():
                    part = df.filter(years == year)
                    _write_parquet(part, new_lake / name / f"year={year}" / "part-0.parquet")
            else:
                _write_parquet(df, new_lake / f"{name}.parquet")
        truth = lake.truth
        for name, df in (
            ("regimes", truth.regimes),
            ("spread", truth.spread),
            ("betas", truth.betas),
            ("lifecycle", truth.lifecycle),
        ):
            _write_parquet(df, new_truth / f"{name}.parquet")
        meta = {
            "generator": GENERATOR,
            "generator_version": GENERATOR_VERSION,
            "partitioned": partitioned,
            "spec": lake.spec.to_json(),
        }
        tmp = new_truth / f".{_SPEC_FILE}.tmp"
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, new_truth / _SPEC_FILE)

    return write_staged(Path(out_dir), fill)


def write_staged(out_dir: Path, fill: Callable[[Path, Path], None]) -> tuple[Path, Path]:
    """``out_dir/lake`` and ``out_dir/truth`` as ``fill(new_lake, new_truth)`` writes them in
    a hidden staging folder inside ``out_dir``, then swapped into place (``write_lake``'s
    rules: a pair this generator did not write is refused; a folder that cannot be written is
    an ``OutputLocationError`` and the folder keeps what it held)."""
    lake_dir, truth_dir = out_dir / "lake", out_dir / "truth"
    for d in (lake_dir, truth_dir):
        if d.exists() and (not d.is_dir() or (any(d.iterdir()) and not _is_ours(out_dir))):
            raise OutputLocationError(
                f"{d} exists and was not written by the synthetic generator; "
                "choose an empty or new output folder"
            )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=".synth-staging-", dir=out_dir))
    except OSError as err:
        raise OutputLocationError(
            f"cannot write the synthetic lake in {out_dir} ({err.strerror or err}); nothing "
            "was written. What to do: pass a folder you can write to"
        ) from None
    try:
        new_lake, new_truth = stage / "lake", stage / "truth"
        new_lake.mkdir()
        new_truth.mkdir()
        fill(new_lake, new_truth)
        # swap into place; old folders (ours, checked above) go to the staging folder, and come
        # back if the new one cannot take their place
        for new, target in ((new_lake, lake_dir), (new_truth, truth_dir)):
            old = stage / f"old-{target.name}"
            if target.exists():
                os.replace(target, old)
            try:
                os.replace(new, target)
            except OSError:
                if old.exists():
                    os.replace(old, target)
                raise
    except OSError as err:
        raise OutputLocationError(
            f"cannot write the synthetic lake in {out_dir} ({err.strerror or err}: "
            f"{err.filename}); the folder holds what it held before. What to do: free space or "
            "pass a folder you can write to"
        ) from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return lake_dir, truth_dir


def _as_date(value: date | str | None, default: date) -> date:
    if value is None:
        return default
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def synth_command(
    out_dir: Path,
    *,
    seed: int,
    world: World,
    n_assets: int = 60,
    start: date | str | None = None,
    end: date | str | None = None,
    quirks: frozenset[str] = frozenset(),
    partitioned: bool = False,
    design: str = "baseline",
) -> tuple[Path, Path]:
    """What the CLI `majors-alts synth OUT_DIR --seed N --world planted|null --design NAME`
    calls (``design``: a name of ``DESIGNS``)."""
    if design not in DESIGNS:
        raise ValueError(f"unknown design {design!r}; choose from {sorted(DESIGNS)}")
    defaults = SyntheticSpec()
    spec = SyntheticSpec(
        n_assets=n_assets,
        start=_as_date(start, defaults.start),
        end=_as_date(end, defaults.end),
        world=world,
        seed=seed,
        quirks=frozenset(quirks),
        design=DESIGNS[design],
    )
    return write_lake(generate(spec), Path(out_dir), partitioned=partitioned)
