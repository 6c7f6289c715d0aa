"""Outputs rendered once for the publication tests: a run's, a sweep's, an import's and an
update's sets, each in an "old" and a "new" version, so hundreds of commits can be tried in
milliseconds.

``sets`` writes them with the real commands (a small synthetic lake and a small config; for the
update, the synthetic market in the Binance archive's layout served on 127.0.0.1), keeps the old
versions as template roots and reads the new versions' bytes back (an importer's set holds its
tables and ``importer_manifest.json``). The update's publication is captured as the arguments
the real ``update binance-archive`` passed to ``common.write_tables``, so a case replays exactly
that publication. Each case then copies a template (hard links, on tmpfs when there is one) and
publishes the new bytes with a fault planted at one step.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from majors_alts_monitor import cli
from majors_alts_monitor.lake.importers import update_command
from majors_alts_monitor.lake.importers.common import SCHEMAS
from majors_alts_monitor.lake.importers.manifest import MANIFEST
from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake
from majors_alts_monitor.publish.generations import Store
from majors_alts_monitor.publish.layout import LakeOut, OutputRoot
from majors_alts_monitor.publish.lock import LOCK_NAME
from majors_alts_monitor.tests.lake.archive_server import ServerState, serve
from majors_alts_monitor.tests.lake.update_fixtures import import_history, market, write_archive

SPEC = SyntheticSpec(n_assets=12, start=date(2020, 1, 1), end=date(2021, 8, 31), seed=17)
SMALL = (
    "walkforward:\n  train_days: 200\n  test_days: 60\nstats:\n  n_boot: 100\n"
    "report:\n  robustness: false\n"
)
DAY_MS = 86_400_000
UPDATE_TODAY = "2024-03-12"  # the update's morning (update_fixtures' market ends 2024-03-20)


@dataclass(frozen=True)
class Sets:
    base: Path
    lake: Path  # the synthetic lake the runs read
    root_old: Path  # an output root holding the old run set and the old sweep set
    run_new: dict[str, bytes]  # the new run set, by path inside the set
    sweep_new: dict[str, bytes]
    lake_old: Path  # an importer's lake holding the old tables
    tables_new: dict[str, bytes]  # the new tables, by name
    klines: Path  # the klines the imports read (old: the first 3 assets, new: all)
    lake_files_new: dict[str, bytes]  # the new importer manifest, by file name
    archive: Path  # the synthetic market in the Binance archive's layout
    upd_old: Path  # a lake the importers built from the archive's first three months
    upd_new: dict[str, bytes]  # upd_old's set after `update binance-archive` (every file)
    upd_call: tuple[tuple[Any, ...], dict[str, Any]]  # what that update passed to write_tables


def files_of_store(store: Store) -> dict[str, bytes]:
    return {rel: p.read_bytes() for rel, p in store.current_files().items()}


def _epoch_ms(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000)


def write_klines(tables: dict[str, pl.DataFrame], folder: Path, assets: list[str]) -> None:
    """Headerless 1d klines CSVs, one per asset (all months in one file)."""
    folder.mkdir(parents=True, exist_ok=True)
    px = tables["fact_price"].join(tables["fact_volume"], on=["asset_id", "date"])
    for a in assets:
        rows = px.filter(pl.col("asset_id") == a).sort("date")
        lines = []
        for d, close, vol in rows.select("date", "close", "volume").iter_rows():
            t = _epoch_ms(d)
            lines.append(
                f"{t},{close!r},{close!r},{close!r},{close!r},1,{t + DAY_MS - 1},{vol!r},1,1,1,0"
            )
        (folder / f"{a}USDT-1d-2020-01.csv").write_text("\n".join(lines) + "\n")


def _main(argv: list[str]) -> None:
    code = cli.main(argv)
    assert code == 0, argv


@pytest.fixture(scope="session")
def fast_tmp() -> Iterator[Path]:
    """A folder on tmpfs when the machine has one (an fsync there costs nothing)."""
    shm = Path("/dev/shm")
    parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    d = Path(tempfile.mkdtemp(prefix="majors-alts-publish-", dir=parent))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def sets(fast_tmp: Path) -> Sets:
    base = fast_tmp / "sets"
    gen = generate(SPEC)
    lake, _ = write_lake(gen, base / "synth")
    cfg = base / "small.yaml"
    cfg.write_text(SMALL)
    run = ["run", "--lake", str(lake), "--config", str(cfg), "--quiet"]
    old, new = base / "old", base / "new"
    _main([*run, "--output-root", str(old), "--end", "2021-06-30"])
    _main([*run, "--output-root", str(new)])
    for root, fee in ((old, 2), (new, 5)):
        sweep = base / f"sweep_{fee}.yaml"
        sweep.write_text(
            f"lake: {lake}\nbase_config: {cfg}\ngrid:\n  costs.taker_fee_bps: [{fee}]\n"
        )
        _main(["sweep", str(sweep), "--workers", "0", "--output-root", str(root), "--quiet"])
    alts = sorted(
        a for a in gen.tables["fact_price"]["asset_id"].unique() if a not in {"USDT", "USDC"}
    )
    klines = base / "klines"
    write_klines(gen.tables, klines / "old", alts[:3])
    write_klines(gen.tables, klines / "new", alts[:6])
    lake_old, lake_new = base / "lake_old", base / "lake_new"
    _main(["import", "binance-klines", str(klines / "old"), "--out", str(lake_old)])
    _main(["import", "binance-klines", str(klines / "new"), "--out", str(lake_new)])
    out_new = OutputRoot(new)
    imported = files_of_store(LakeOut(lake_new).store)
    tables = {
        rel.removesuffix(".parquet"): b for rel, b in imported.items() if rel.endswith(".parquet")
    }
    extras = {rel: b for rel, b in imported.items() if not rel.endswith(".parquet")}
    assert set(tables) == {"fact_price", "fact_volume"} <= set(SCHEMAS)
    assert set(extras) == {MANIFEST}
    archive, upd_old, upd_new, call = _update_sets(base)
    return Sets(
        base,
        lake,
        old,
        files_of_store(out_new.run),
        files_of_store(out_new.sweep),
        lake_old,
        tables,
        klines,
        extras,
        archive,
        upd_old,
        upd_new,
        call,
    )


def update_argv(lake: Path, url: str, cache: Path, *extra: str) -> list[str]:
    return [
        "update", "binance-archive", "--out", str(lake), "--base-url", url, "--cache",
        str(cache), "--keep-cache", "--today", UPDATE_TODAY, "--retries", "0", "--timeout", "5",
        *extra,
    ]  # fmt: skip


def _update_sets(
    base: Path,
) -> tuple[Path, Path, dict[str, bytes], tuple[tuple[Any, ...], dict[str, Any]]]:
    """The archive, a lake imported from its first three months, that lake's set after a real
    ``update binance-archive`` (its tables and manifest), and the update's ``write_tables``
    call."""
    archive = write_archive(market(), base / "archive")
    upd_old = base / "upd_old"
    import_history(archive, upd_old, ("2023-11", "2023-12", "2024-01"))
    work = copy_root(upd_old, base / "upd_work")
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    real = update_command.write_tables

    def capture(*a: Any, **k: Any) -> Any:
        calls.append((a[1:], k))  # the lake aside
        return real(*a, **k)

    update_command.write_tables = capture  # type: ignore[assignment]
    try:
        with serve(ServerState(archive)) as url:
            _main(update_argv(work, url, base / "upd_cache"))
    finally:
        update_command.write_tables = real  # type: ignore[assignment]
    assert len(calls) == 1
    new = files_of_store(LakeOut(work).store)
    assert MANIFEST in new and "fact_open_interest.parquet" in new
    return archive, upd_old, new, calls[0]


def copy_root(src: Path, dst: Path) -> Path:
    """A copy sharing the files (hard links; nothing is ever changed in place), links as links."""
    shutil.copytree(
        src, dst, symlinks=True, copy_function=os.link, ignore=shutil.ignore_patterns(LOCK_NAME)
    )
    return dst
