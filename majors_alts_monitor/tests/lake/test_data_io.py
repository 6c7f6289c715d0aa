"""Tests of the read-only lake reader (``data_io.py``) against ``LAKE_CONTRACT.md``.

Every rule of the module docstring is exercised on small synthetic lakes: layouts (flat,
hive-partitioned, DuckDB fallback), the read-only guarantee (bytes and mtimes of every file
unchanged, nothing created, for a read and a whole pipeline run), refusals whose message names
table, column, first key and what to do, and the stated repairs (identical duplicates, symbol
spellings, stablecoins). Seeds are fixed; lakes are built once per module.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from majors_alts_monitor import pipeline
from majors_alts_monitor.config import Config
from majors_alts_monitor.errors import LakeError, OutputLocationError
from majors_alts_monitor.lake.data_io import (
    LakeData,
    LakeReader,
    check_output_root,
    lake_span,
    sort_rows,
)
from majors_alts_monitor.lake.synthetic import SyntheticLake, SyntheticSpec, generate, write_lake
from majors_alts_monitor.lake.tables import _may_repeat_a_key
from majors_alts_monitor.market.scope import read_scoped
from majors_alts_monitor.tests.snapshots import file_stat_snapshot

SEED = 3
ALL_QUIRKS = frozenset({"duplicates", "gaps", "ragged_ends", "spellings"})
# small and short: for layout and validation tests
SMALL = SyntheticSpec(
    n_assets=12, start=date(2020, 1, 1), end=date(2020, 12, 31), seed=SEED, quirks=ALL_QUIRKS
)
CLEAN = SyntheticSpec(n_assets=10, start=date(2020, 1, 1), end=date(2020, 6, 30), seed=SEED)
# long enough for one walk-forward fold of the full pipeline (burn-in + 365 train + purge + test)
RUN_SPEC = SyntheticSpec(n_assets=16, start=date(2020, 1, 1), end=date(2021, 12, 31), seed=SEED)
CFG = Config()
CONTRACT_COLS = {
    "fact_price": ["asset_id", "date", "close"],
    "fact_marketcap": ["asset_id", "date", "marketcap"],
    "fact_volume": ["asset_id", "date", "volume"],
    "fact_funding": ["asset_id", "instrument_id", "date", "funding_rate"],
    "fact_open_interest": ["asset_id", "date", "open_interest_usd"],
    "dim_asset": ["asset_id", "symbol", "name", "is_stable"],
}


def reader(lake_dir: Path, duck: Path | None = None, **kw: object) -> LakeReader:
    kw.setdefault("aliases", CFG.universe.aliases)
    kw.setdefault("exclude", CFG.universe.exclude)
    return LakeReader(lake_dir, duck, **kw)  # type: ignore[arg-type]


def copy_lake(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def tree(root: Path) -> set[str]:
    """Every file and folder under root (relative), to prove nothing was created."""
    out: set[str] = set()
    for dirpath, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            out.add(str((Path(dirpath) / name).relative_to(root)))
    return out


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[SyntheticLake, Path, Path]:
    """The quirky small lake written flat and hive-partitioned: (lake, flat_dir, hive_dir)."""
    lake = generate(SMALL)
    root = tmp_path_factory.mktemp("small")
    flat, _ = write_lake(lake, root / "flat", partitioned=False)
    hive, _ = write_lake(lake, root / "hive", partitioned=True)
    return lake, flat, hive


@pytest.fixture(scope="module")
def clean_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean flat lake that bad-input tests copy and damage."""
    lake_dir, _ = write_lake(generate(CLEAN), tmp_path_factory.mktemp("clean"))
    return lake_dir


# ---- layouts --------------------------------------------------------------------------------
@pytest.mark.parametrize("window", [(None, None), (date(2020, 3, 15), date(2020, 11, 2))])
def test_flat_and_hive_partitioned_lakes_read_the_same(
    small: tuple[SyntheticLake, Path, Path], window: tuple[date | None, date | None]
) -> None:
    _, flat, hive = small
    a = reader(flat).read(*window)
    b = reader(hive).read(*window)
    assert a.tables.keys() == b.tables.keys()
    assert (a.start, a.end) == (b.start, b.end)
    assert b.sources["fact_price"].kind == "parquet_dir"
    assert a.sources["fact_price"].kind == "parquet_file"
    for name, df in a.tables.items():
        other = b.tables[name]
        # a hive folder adds its partition column (year=...) as an extra column; the contract
        # columns are identical, row for row
        extra = set(other.columns) - set(df.columns)
        assert extra <= {"year"}, (name, extra)
        assert_frame_equal(df, other.select(df.columns))
    assert a.notes == b.notes and a.warnings == b.warnings
    if window[0] is not None:
        for df in a.tables.values():
            if "date" in df.columns:
                assert df["date"].min() >= window[0] and df["date"].max() <= window[1]


@pytest.mark.parametrize("layout", ["flat", "hive"])
@pytest.mark.parametrize("window", [(None, None), (date(2020, 3, 15), date(2020, 11, 2))])
def test_a_runs_scoped_read_equals_the_full_read_on_a_quirky_lake(
    small: tuple[SyntheticLake, Path, Path],
    layout: str,
    window: tuple[date | None, date | None],
) -> None:
    """Every asset of a 12-coin lake is a candidate: the scoped read (``market.scope``, every
    asset on narrow columns, rows placed on a grid) gives ``read``'s tables row for row, its
    notes and warnings (duplicates, spellings, stablecoins, gaps, ragged ends) in order."""
    _, flat, hive = small
    lake = flat if layout == "flat" else hive
    full = reader(lake).read(*window)
    scoped = read_scoped(reader(lake), CFG.universe, CFG.data.max_gap_days, *window)
    assert scoped.scope is not None and scoped.scope.n_assets == len(scoped.scope.panel_assets)
    assert scoped.notes == full.notes and scoped.warnings == full.warnings
    assert scoped.rejected == full.rejected and full.rejected  # the duplicates, counted
    assert any("identical duplicate" in n for n in full.notes)
    assert any("normalised" in n for n in full.notes)
    assert (scoped.start, scoped.end, scoped.stables) == (full.start, full.end, full.stables)
    assert scoped.table_stats() == full.table_stats() and scoped.sources == full.sources
    assert scoped.tables.keys() == full.tables.keys()
    for name, df in full.tables.items():
        mine = scoped.tables[name]
        assert_frame_equal(mine, df.select(mine.columns))
        if name in CONTRACT_COLS and name not in ("dim_asset",):
            assert set(CONTRACT_COLS[name]) <= set(mine.columns), name


def _early_rows(d: pl.DataFrame, asset: str, values: list[float]) -> pl.DataFrame:
    """Rows of ``asset`` dated before the lake's first price (off a scoped read's grid)."""
    col = d.columns[2]
    extra = pl.DataFrame(
        {"asset_id": [asset] * len(values), "date": [date(2019, 12, 1)] * len(values), col: values}
    )
    return pl.concat([d, extra.select(d.columns).cast(d.schema)])


@pytest.mark.parametrize(
    ("table", "damage"),
    [
        ("fact_marketcap", lambda d: _early_rows(d, "BTC", [1e9, 2e9])),  # conflict off the grid
        ("fact_marketcap", lambda d: _early_rows(d, "BTC", [1e9, 1e9])),  # identical off the grid
        ("fact_volume", lambda d: _early_rows(d, "ALT001", [5.0])),  # one row off the grid
        ("fact_price", lambda d: pl.concat([d, d.filter(pl.col("asset_id") == "USDT").head(3)])),
        ("fact_volume", lambda d: pl.concat([d, d.filter(pl.col("asset_id") == "ETH").head(2)])),
    ],
)
def test_a_runs_scoped_read_repairs_and_refuses_as_read_does(
    clean_lake: Path, tmp_path: Path, table: str, damage: Callable[[pl.DataFrame], pl.DataFrame]
) -> None:
    """Repeated keys on and off the grid, of a stablecoin too: the same notes, rows and
    refusals whichever way the lake is read."""
    lake, _ = _damage(clean_lake, tmp_path, table, damage)
    r, g = reader(lake), CFG.data.max_gap_days
    try:
        full = r.read()
    except LakeError as err:
        with pytest.raises(LakeError) as info:
            read_scoped(r, CFG.universe, g, None, None)
        assert str(info.value) == str(err)
        return
    scoped = read_scoped(r, CFG.universe, g, None, None)
    assert scoped.notes == full.notes and scoped.warnings == full.warnings
    assert scoped.rejected == full.rejected
    assert any("identical duplicate" in n or "stablecoins" in n for n in full.notes)
    assert scoped.table_stats() == full.table_stats()
    for name in ("fact_price", "fact_marketcap", "fact_volume"):
        mine = scoped.tables[name]
        grid = full.tables[name].filter(pl.col("date") >= full.price_span()[0])
        assert_frame_equal(mine, grid.select(mine.columns))


def test_window_read_equals_filtered_full_read(small: tuple[SyntheticLake, Path, Path]) -> None:
    _, _, hive = small
    full = reader(hive).read()
    lo, hi = date(2020, 5, 1), date(2020, 8, 31)
    part = reader(hive).read(lo, hi)
    for name, df in part.tables.items():
        if "date" not in df.columns:
            continue
        assert_frame_equal(df, full.tables[name].filter(pl.col("date").is_between(lo, hi)))


# ---- DuckDB fallback --------------------------------------------------------------------------
def make_duckdb(path: Path, tables: dict[str, Path]) -> Path:
    con = duckdb.connect(str(path))
    try:
        for name, parquet in tables.items():
            con.execute(f"create table {name} as select * from read_parquet('{parquet}')")
    finally:
        con.close()
    return path


def test_duckdb_fallback_when_parquet_missing(clean_lake: Path, tmp_path: Path) -> None:
    duck = make_duckdb(
        tmp_path / "research.duckdb", {"fact_volume": clean_lake / "fact_volume.parquet"}
    )
    lake = copy_lake(clean_lake, tmp_path / "lake")
    (lake / "fact_volume.parquet").unlink()
    with pytest.raises(LakeError, match="fact_volume"):
        reader(lake).read()  # without the DuckDB file the required table is missing
    before = file_stat_snapshot(tmp_path)
    got = reader(lake, duck).read()
    want = reader(clean_lake).read()
    assert got.sources["fact_volume"].kind == "duckdb"
    assert got.sources["fact_price"].kind == "parquet_file"
    for name, df in want.tables.items():
        assert_frame_equal(got.tables[name], df)
    assert not any("parquet wins" in n for n in got.notes)
    # a window is pushed into the DuckDB query too
    lo, hi = date(2020, 2, 1), date(2020, 3, 1)
    win = reader(lake, duck).read(lo, hi).tables["fact_volume"]
    assert_frame_equal(win, want.tables["fact_volume"].filter(pl.col("date").is_between(lo, hi)))
    assert file_stat_snapshot(tmp_path) == before


def test_parquet_wins_over_duckdb_and_says_so_once(clean_lake: Path, tmp_path: Path) -> None:
    # the DuckDB copy differs (volumes doubled) so we can tell which one was read
    duck = tmp_path / "research.duckdb"
    con = duckdb.connect(str(duck))
    try:
        con.execute(
            "create table fact_volume as select asset_id, date, volume * 2 as volume "
            f"from read_parquet('{clean_lake / 'fact_volume.parquet'}')"
        )
    finally:
        con.close()
    got = reader(clean_lake, duck).read()
    want = reader(clean_lake).read()
    assert got.sources["fact_volume"].kind == "parquet_file"
    assert_frame_equal(got.tables["fact_volume"], want.tables["fact_volume"])
    wins = [n for n in got.notes if "parquet wins" in n]
    assert len(wins) == 1 and "fact_volume" in wins[0] and str(duck) in wins[0]


# ---- the read-only guarantee -------------------------------------------------------------------
def _restore_write(root: Path) -> None:
    for dirpath, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            p = Path(dirpath) / name
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
    root.chmod(root.stat().st_mode | stat.S_IWUSR)


def _remove_write(root: Path) -> None:
    for dirpath, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            p = Path(dirpath) / name
            p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    root.chmod(root.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def test_read_and_full_pipeline_run_leave_the_lake_untouched(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """THE READ-ONLY TEST. A partitioned lake with a DuckDB file beside it; every byte and
    mtime is snapshot, write permission removed (``chmod -R a-w``), then a read and a whole
    pipeline run. Tests run as root, which ignores permissions, so the test also proves that
    no file or folder was created, changed or removed."""
    root = tmp_path_factory.mktemp("readonly")
    lake_dir, _truth = write_lake(generate(RUN_SPEC), root / "data", partitioned=True)
    duck = make_duckdb(
        root / "data" / "research.duckdb",
        {
            "fact_volume": lake_dir / "fact_volume" / "year=2020" / "part-0.parquet",
            "dim_asset": lake_dir / "dim_asset.parquet",
        },
    )
    guarded = root / "data"  # the lake folder, the truth and the DuckDB file beside them
    out = tmp_path_factory.mktemp("outputs")
    before = file_stat_snapshot(guarded)
    tree_before = tree(guarded)
    assert (
        any(k.startswith("lake/fact_price/year=") for k in before) and "research.duckdb" in before
    )
    cfg = CFG.with_overrides(lake=lake_dir, duckdb=duck, output_root=out)
    _remove_write(guarded)
    try:
        data = reader(lake_dir, duck).read()
        assert data.tables["fact_price"].height > 0
        assert any("parquet wins" in n for n in data.notes)
        result = pipeline.run(cfg, RUN_SPEC.start, RUN_SPEC.end)
        assert result.pnl.height > 0
    finally:
        _restore_write(guarded)
    assert file_stat_snapshot(guarded) == before
    assert tree(guarded) == tree_before


# ---- refusals ----------------------------------------------------------------------------------
def _damage(
    clean_lake: Path, tmp_path: Path, table: str, fn: object
) -> tuple[Path, dict[str, tuple[int, int, str]]]:
    lake = copy_lake(clean_lake, tmp_path / "lake")
    df = pl.read_parquet(lake / f"{table}.parquet")
    fn(df).write_parquet(lake / f"{table}.parquet")  # type: ignore[operator]
    return lake, file_stat_snapshot(lake)


def _refused(lake: Path, snap: dict[str, tuple[int, int, str]], **kw: object) -> str:
    """The refusal of ``read``, and the same one, word for word, from a run's scoped read."""
    with pytest.raises(LakeError) as info:
        reader(lake, **kw).read()
    with pytest.raises(LakeError) as scoped:
        read_scoped(reader(lake, **kw), CFG.universe, CFG.data.max_gap_days, None, None)
    assert file_stat_snapshot(lake) == snap, "the reader changed the lake"
    msg = str(info.value)
    assert "What to do:" in msg
    assert str(scoped.value) == msg
    return msg


def test_missing_required_column(clean_lake: Path, tmp_path: Path) -> None:
    lake, snap = _damage(clean_lake, tmp_path, "fact_marketcap", lambda d: d.drop("marketcap"))
    msg = _refused(lake, snap)
    assert "lake table 'fact_marketcap'" in msg
    assert "column 'marketcap'" in msg and "missing" in msg


def test_wrong_date_type_string(clean_lake: Path, tmp_path: Path) -> None:
    lake, snap = _damage(
        clean_lake, tmp_path, "fact_price", lambda d: d.with_columns(pl.col("date").cast(pl.String))
    )
    msg = _refused(lake, snap)
    assert "lake table 'fact_price'" in msg and "column 'date'" in msg
    assert "expected Date" in msg and "String" in msg
    first = pl.read_parquet(lake / "fact_price.parquet").row(0, named=True)["asset_id"]
    assert f"first offending key: {first}" in msg


def test_non_numeric_close(clean_lake: Path, tmp_path: Path) -> None:
    lake, snap = _damage(
        clean_lake,
        tmp_path,
        "fact_price",
        lambda d: d.with_columns(pl.col("close").cast(pl.String)),
    )
    msg = _refused(lake, snap)
    assert "lake table 'fact_price'" in msg and "column 'close'" in msg
    assert "expected a number" in msg
    first = pl.read_parquet(lake / "fact_price.parquet").row(0, named=True)["asset_id"]
    assert f"first offending key: {first}" in msg


def test_null_key(clean_lake: Path, tmp_path: Path) -> None:
    def null_one(d: pl.DataFrame) -> pl.DataFrame:
        return d.with_columns(
            pl.when(pl.int_range(pl.len()) == 17)
            .then(None)
            .otherwise(pl.col("asset_id"))
            .alias("asset_id")
        )

    lake, snap = _damage(clean_lake, tmp_path, "fact_volume", null_one)
    msg = _refused(lake, snap)
    bad_date = pl.read_parquet(clean_lake / "fact_volume.parquet")["date"][17]
    assert "lake table 'fact_volume'" in msg and "column 'asset_id'" in msg
    assert "null key" in msg and "'asset_id': None" in msg
    assert f"first offending key: {{'asset_id': None, 'date': {bad_date!r}}}" in msg


def test_conflicting_duplicate_names_the_key(clean_lake: Path, tmp_path: Path) -> None:
    def conflict(d: pl.DataFrame) -> pl.DataFrame:
        row = d.filter((pl.col("asset_id") == "ETH") & (pl.col("date") == date(2020, 3, 7)))
        return pl.concat([d, row.with_columns(pl.col("close") * 1.01)])

    lake, snap = _damage(clean_lake, tmp_path, "fact_price", conflict)
    msg = _refused(lake, snap)
    assert "lake table 'fact_price'" in msg and "column 'close'" in msg
    assert "share a key but differ" in msg
    assert "first offending key: {'asset_id': 'ETH', 'date': '2020-03-07'}" in msg


def _non_positive(d: pl.DataFrame) -> pl.DataFrame:
    hit_a = (pl.col("asset_id") == "ETH") & (pl.col("date") == date(2020, 4, 2))
    hit_b = (pl.col("asset_id") == "BTC") & (pl.col("date") == date(2020, 5, 9))
    return d.with_columns(
        pl.when(hit_a).then(0.0).when(hit_b).then(-3.0).otherwise(pl.col("close")).alias("close")
    )


def test_non_positive_close_refused_under_error(clean_lake: Path, tmp_path: Path) -> None:
    lake, snap = _damage(clean_lake, tmp_path, "fact_price", _non_positive)
    msg = _refused(lake, snap, on_bad_values="error")
    assert "lake table 'fact_price'" in msg and "column 'close'" in msg
    assert "2 values are not > 0" in msg
    # sorted by key: BTC comes before ETH
    assert "first offending key: {'asset_id': 'BTC', 'date': '2020-05-09'}" in msg
    assert "on_bad_values" in msg


def test_non_positive_close_dropped_with_one_warning_under_drop(
    clean_lake: Path, tmp_path: Path
) -> None:
    lake, snap = _damage(clean_lake, tmp_path, "fact_price", _non_positive)
    data = reader(lake, on_bad_values="drop").read()
    assert file_stat_snapshot(lake) == snap
    price_warns = [w for w in data.warnings if "fact_price" in w]
    assert len(price_warns) == 1
    w = price_warns[0]
    assert "'close'" in w and "2 values" in w and "'BTC'" in w and "2020-05-09" in w
    px = data.tables["fact_price"]
    assert px.filter(pl.col("close") <= 0).height == 0
    gone = px.filter(
        ((pl.col("asset_id") == "ETH") & (pl.col("date") == date(2020, 4, 2)))
        | ((pl.col("asset_id") == "BTC") & (pl.col("date") == date(2020, 5, 9)))
    )
    assert gone.height == 0
    assert px.height == reader(clean_lake).read().tables["fact_price"].height - 2


def test_missing_fact_price_table(clean_lake: Path, tmp_path: Path) -> None:
    lake = copy_lake(clean_lake, tmp_path / "lake")
    (lake / "fact_price.parquet").unlink()
    snap = file_stat_snapshot(lake)
    msg = _refused(lake, snap)
    assert "lake table 'fact_price'" in msg and "not found" in msg and str(lake) in msg


def test_missing_lake_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(LakeError) as info:
        reader(missing)
    msg = str(info.value)
    assert "lake table 'fact_price'" in msg and str(missing) in msg
    assert "does not exist" in msg and "What to do:" in msg
    assert not missing.exists()


def test_bad_values_leave_good_rows_alone(clean_lake: Path, tmp_path: Path) -> None:
    """Null and non-finite values are missing data: dropped and counted, not refused."""

    def holes(d: pl.DataFrame) -> pl.DataFrame:
        i = pl.int_range(pl.len())
        return d.with_columns(
            pl.when(i == 3)
            .then(None)
            .when(i == 4)
            .then(float("nan"))
            .otherwise(pl.col("volume"))
            .alias("volume")
        )

    lake, snap = _damage(clean_lake, tmp_path, "fact_volume", holes)
    data = reader(lake).read()
    assert file_stat_snapshot(lake) == snap
    assert any("fact_volume.volume: 2 null or non-finite" in n for n in data.notes)
    assert (
        data.tables["fact_volume"].height
        == reader(clean_lake).read().tables["fact_volume"].height - 2
    )


# ---- stated repairs ----------------------------------------------------------------------------
def test_identical_duplicates_dropped_with_a_note(
    small: tuple[SyntheticLake, Path, Path],
) -> None:
    lake, flat, _ = small
    data = reader(flat).read()
    for name in ("fact_price", "fact_volume"):
        raw = lake.tables[name]
        n_dup = raw.height - raw.unique().height
        assert n_dup > 0
        assert f"{name}: dropped {n_dup} identical duplicate rows" in data.notes
        got = data.tables[name]
        assert got.select("asset_id", "date").is_duplicated().sum() == 0


def test_symbol_normalisation_via_spellings(small: tuple[SyntheticLake, Path, Path]) -> None:
    lake, flat, _ = small
    raw_ids = set(lake.tables["fact_funding"]["asset_id"].to_list())
    assert {"BTCUSDT", "ETH-PERP", "SATS", "ALT003USDT"} <= raw_ids
    data = reader(flat).read()
    for name in ("fact_funding", "fact_open_interest"):
        ids = set(data.tables[name]["asset_id"].to_list())
        assert {"BTC", "ETH", "1000SATS", "ALT003"} <= ids
        assert ids <= set(data.tables["fact_price"]["asset_id"].to_list())
        assert any(n.startswith(f"{name}: normalised") for n in data.notes)
    r = reader(flat)
    known = {"BTC", "ETH", "ALT003", "1000SATS", "DOGE"}
    assert r.normalise_symbol("BTCUSDT", known) == "BTC"
    assert r.normalise_symbol("eth-perp", known) == "ETH"
    assert r.normalise_symbol("SATS", known) == "1000SATS"
    assert r.normalise_symbol("ALT003USDT", known) == "ALT003"
    # a suffix is stripped only when what remains is a known asset
    assert r.normalise_symbol("FOOUSDT", known) == "FOOUSDT"
    assert r.normalise_symbol("USDT", known) == "USDT"


def test_stablecoins_removed(small: tuple[SyntheticLake, Path, Path]) -> None:
    lake, flat, _ = small
    raw = set(lake.tables["fact_price"]["asset_id"].to_list())
    assert {"USDT", "USDC", "FDUSD"} <= raw
    # USDT and USDC are flagged is_stable in dim_asset: removed even with an empty exclude list;
    # FDUSD is not flagged, so only the exclude list catches it
    bare = reader(flat, exclude=()).read()
    ids = set(bare.tables["fact_price"]["asset_id"].to_list())
    assert "USDT" not in ids and "USDC" not in ids and "FDUSD" in ids
    assert bare.stables == frozenset({"USDT", "USDC"})
    data = reader(flat, exclude=("FDUSD",)).read()
    for name, df in data.tables.items():
        if name == "dim_asset":
            continue
        assert not set(df["asset_id"].to_list()) & {"USDT", "USDC", "FDUSD"}, name
    assert data.stables == frozenset({"USDT", "USDC", "FDUSD"})
    assert any("fact_price: removed" in n for n in data.notes)
    # the default config's exclude list covers FDUSD
    assert "FDUSD" not in set(reader(flat).read().tables["fact_price"]["asset_id"].to_list())


def test_every_table_is_typed_keyed_and_sorted(small: tuple[SyntheticLake, Path, Path]) -> None:
    _, flat, _ = small
    data = reader(flat).read()
    assert isinstance(data, LakeData)
    for name, cols in CONTRACT_COLS.items():
        df = data.tables[name]
        assert set(cols) <= set(df.columns)
        assert df.schema["asset_id"] == pl.String
        if "date" in cols:
            assert df.schema["date"] == pl.Date
            assert df["date"].is_sorted()
        for v in ("close", "marketcap", "volume", "funding_rate", "open_interest_usd"):
            if v in df.columns:
                assert df.schema[v] == pl.Float64
    assert data.tables["fact_price"]["close"].min() > 0
    # ragged ends: fact_volume stops 2 days and fact_funding 5 days before fact_price
    through = data.data_through()
    assert through["fact_price"] == SMALL.end.isoformat()
    assert through["fact_volume"] == date(2020, 12, 29).isoformat()
    assert through["fact_funding"] == date(2020, 12, 26).isoformat()


# ---- output location ---------------------------------------------------------------------------
def test_check_output_root_refuses_inside_the_lake(clean_lake: Path, tmp_path: Path) -> None:
    for bad in (clean_lake, clean_lake / "reports", clean_lake / "sub" / "deeper"):
        with pytest.raises(OutputLocationError, match="inside the lake"):
            check_output_root(bad, clean_lake)
    check_output_root(tmp_path / "out", clean_lake)  # outside: fine
    check_output_root(clean_lake.parent / "elsewhere", clean_lake)
    assert not (clean_lake / "reports").exists()


# ---- bad inputs: negative values, date and id types, dim_asset columns ------------------------
NONNEG = [
    ("fact_marketcap", "marketcap"),
    ("fact_volume", "volume"),
    ("fact_open_interest", "open_interest_usd"),
]
NEG_A = ("ETH", date(2020, 4, 2))  # set to a small negative value
NEG_B = ("BTC", date(2020, 5, 9))  # set to a large negative value; BTC sorts first
ZERO = ("ETH", date(2020, 4, 3))  # zero is allowed (>= 0)


def _hit(key: tuple[str, date]) -> pl.Expr:
    return (pl.col("asset_id") == key[0]) & (pl.col("date") == key[1])


def _negative(col: str) -> Callable[[pl.DataFrame], pl.DataFrame]:
    def fn(d: pl.DataFrame) -> pl.DataFrame:
        assert d.filter(_hit(NEG_A) | _hit(NEG_B) | _hit(ZERO)).height == 3
        return d.with_columns(
            pl.when(_hit(NEG_A))
            .then(-1.0)
            .when(_hit(NEG_B))
            .then(-5e6)
            .when(_hit(ZERO))
            .then(0.0)
            .otherwise(pl.col(col))
            .alias(col)
        )

    return fn


@pytest.fixture(scope="module")
def clean_read(clean_lake: Path) -> LakeData:
    """The clean lake as read with the default config, to compare damaged reads against."""
    return reader(clean_lake).read()


@pytest.mark.parametrize(("table", "col"), NONNEG)
def test_negative_value_refused_under_error(
    clean_lake: Path, tmp_path: Path, table: str, col: str
) -> None:
    lake, snap = _damage(clean_lake, tmp_path, table, _negative(col))
    msg = _refused(lake, snap, on_bad_values="error")
    assert f"lake table '{table}'" in msg and f"column '{col}'" in msg
    assert "2 values are not >= 0" in msg  # the zero is not counted
    assert "first offending key: {'asset_id': 'BTC', 'date': '2020-05-09'}" in msg
    assert "on_bad_values" in msg


@pytest.mark.parametrize(("table", "col"), NONNEG)
def test_negative_value_dropped_with_one_warning_under_drop(
    clean_lake: Path, tmp_path: Path, clean_read: LakeData, table: str, col: str
) -> None:
    lake, snap = _damage(clean_lake, tmp_path, table, _negative(col))
    data = reader(lake, on_bad_values="drop").read()
    assert file_stat_snapshot(lake) == snap
    assert clean_read.warnings == ()
    assert len(data.warnings) == 1
    w = data.warnings[0]
    assert f"lake table '{table}'" in w and f"column '{col}'" in w
    assert "2 values not >= 0" in w and "dropped" in w
    assert "first offending key: {'asset_id': 'BTC', 'date': '2020-05-09'}" in w
    got = data.tables[table]
    assert got.filter(pl.col(col) < 0).height == 0
    assert got.filter(_hit(NEG_A) | _hit(NEG_B)).height == 0
    assert got.filter(_hit(ZERO))[col].to_list() == [0.0]
    want = clean_read.tables[table]
    assert got.height == want.height - 2
    assert_frame_equal(
        got.filter(~_hit(ZERO)),
        want.filter(~(_hit(NEG_A) | _hit(NEG_B) | _hit(ZERO))),
    )
    for name, df in clean_read.tables.items():  # the other tables are untouched
        if name != table:
            assert_frame_equal(data.tables[name], df)


@pytest.mark.parametrize("table", ["fact_price", "fact_open_interest"])
def test_datetime_date_with_non_midnight_times_refused(
    clean_lake: Path, tmp_path: Path, table: str
) -> None:
    def stamp(d: pl.DataFrame) -> pl.DataFrame:
        shift = (
            pl.when(_hit(NEG_A))
            .then(pl.duration(hours=12))
            .when(_hit(NEG_B))
            .then(pl.duration(minutes=1))
            .otherwise(pl.duration(hours=0))
        )
        return d.with_columns(pl.col("date").cast(pl.Datetime("us")) + shift)

    lake, snap = _damage(clean_lake, tmp_path, table, stamp)
    assert isinstance(pl.read_parquet_schema(lake / f"{table}.parquet")["date"], pl.Datetime)
    msg = _refused(lake, snap)
    assert f"lake table '{table}'" in msg and "column 'date'" in msg
    assert "not midnight" in msg
    assert "first offending key: BTC" in msg  # BTC 00:01 comes before ETH 12:00
    assert "Date" in msg


@pytest.mark.parametrize("table", ["fact_price", "fact_volume"])
def test_non_string_asset_id_refused(clean_lake: Path, tmp_path: Path, table: str) -> None:
    def as_int(d: pl.DataFrame) -> pl.DataFrame:
        return d.with_columns(pl.col("asset_id").rank("dense").cast(pl.Int64))

    lake, snap = _damage(clean_lake, tmp_path, table, as_int)
    msg = _refused(lake, snap)
    assert f"lake table '{table}'" in msg and "column 'asset_id'" in msg
    assert "Int64" in msg and "expected String" in msg
    first = pl.read_parquet(lake / f"{table}.parquet").row(0, named=True)
    assert "first offending key:" in msg and str(first["asset_id"]) in msg


@pytest.mark.parametrize(
    "as_type",
    [
        pl.col("is_stable").cast(pl.Int8),
        pl.when(pl.col("is_stable")).then(pl.lit("true")).otherwise(pl.lit("false")),
    ],
    ids=["int8", "string"],
)
def test_dim_asset_is_stable_not_boolean_refused(
    clean_lake: Path, tmp_path: Path, as_type: pl.Expr
) -> None:
    lake, snap = _damage(
        clean_lake, tmp_path, "dim_asset", lambda d: d.with_columns(as_type.alias("is_stable"))
    )
    msg = _refused(lake, snap)
    assert "lake table 'dim_asset'" in msg and "column 'is_stable'" in msg
    assert "expected Boolean" in msg and "true/false" in msg
    first = pl.read_parquet(lake / "dim_asset.parquet").row(0, named=True)["asset_id"]
    assert f"first offending key: {first}" in msg


@pytest.mark.parametrize("col", ["symbol", "is_stable"])
def test_dim_asset_without_a_required_column_refused(
    clean_lake: Path, tmp_path: Path, col: str
) -> None:
    lake, snap = _damage(clean_lake, tmp_path, "dim_asset", lambda d: d.drop(col))
    msg = _refused(lake, snap)
    assert "lake table 'dim_asset'" in msg and f"column '{col}'" in msg
    assert f"required column '{col}' is missing" in msg
    assert "LAKE_CONTRACT" in msg  # the hint says where the columns are defined


@pytest.mark.parametrize("dtype", [pl.Datetime("us"), pl.Datetime("ns"), pl.Datetime("ms", "UTC")])
@pytest.mark.parametrize("table", ["fact_price", "fact_funding"])
def test_datetime_date_at_midnight_is_accepted_as_date(
    clean_lake: Path, tmp_path: Path, clean_read: LakeData, table: str, dtype: pl.DataType
) -> None:
    lake, snap = _damage(
        clean_lake, tmp_path, table, lambda d: d.with_columns(pl.col("date").cast(dtype))
    )
    assert pl.read_parquet_schema(lake / f"{table}.parquet")["date"] == dtype
    r = reader(lake)
    data = r.read()
    assert file_stat_snapshot(lake) == snap
    assert data.tables[table].schema["date"] == pl.Date
    for name, df in clean_read.tables.items():
        assert_frame_equal(data.tables[name], df)
    assert (data.start, data.end) == (clean_read.start, clean_read.end)
    # a window is pushed down through the Datetime column too
    lo, hi = date(2020, 2, 1), date(2020, 3, 1)
    win = r.read(lo, hi).tables[table]
    assert_frame_equal(win, clean_read.tables[table].filter(pl.col("date").is_between(lo, hi)))
    assert lake_span(r) == (CLEAN.start, CLEAN.end)
    assert file_stat_snapshot(lake) == snap


# ---- broken lakes: exit 2 naming the file, never a traceback (issue 11) ------------------------
def _cli_refuses(lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture, *extra: str) -> str:
    """``majors-alts run`` on the lake: exit 2, no traceback, the lake unchanged; the message."""
    import logging

    from majors_alts_monitor import cli

    # the CLI's console handler is made once per process: point one at this test's stderr for
    # this call only, and leave the logger as it was for the tests that follow
    root = logging.getLogger("majors_alts_monitor")
    before = list(root.handlers)
    for h in [h for h in before if getattr(h, "_mam", False)]:
        root.removeHandler(h)
    snap = file_stat_snapshot(lake)
    try:
        code = cli.main(
            ["run", "--lake", str(lake), "--output-root", str(tmp_path / "out"), *extra]
        )
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in before:
            root.addHandler(h)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and "unexpected failure" not in err
    assert file_stat_snapshot(lake) == snap
    return err


TWO_YEARS = SyntheticSpec(n_assets=8, start=date(2020, 10, 1), end=date(2021, 3, 31), seed=SEED)


@pytest.fixture(scope="module")
def hive2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean hive lake with two partitions (year=2020, year=2021) per fact table."""
    lake_dir, _ = write_lake(
        generate(TWO_YEARS), tmp_path_factory.mktemp("hive2"), partitioned=True
    )
    return lake_dir


def _hive_copy(hive2: Path, tmp_path: Path) -> Path:
    return copy_lake(hive2, tmp_path / "lake")


def test_corrupt_parquet_file_names_the_file(
    clean_lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    lake = copy_lake(clean_lake, tmp_path / "lake")
    (lake / "fact_volume.parquet").write_bytes(b"this is not parquet" * 50)
    err = _cli_refuses(lake, tmp_path, capsys)
    assert "lake table 'fact_volume'" in err and str(lake / "fact_volume.parquet") in err
    assert "cannot be read as parquet" in err and "What to do" in err


def test_corrupt_partition_names_the_partition(
    hive2: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    lake = _hive_copy(hive2, tmp_path)
    part = sorted((lake / "fact_price").rglob("*.parquet"))[-1]
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])  # truncated
    err = _cli_refuses(lake, tmp_path, capsys)
    assert str(part) in err and "lake table 'fact_price'" in err


def test_corrupt_duckdb_fallback_names_the_file(
    clean_lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    lake = copy_lake(clean_lake, tmp_path / "lake")
    (lake / "fact_volume.parquet").unlink()
    duck = tmp_path / "research.duckdb"
    duck.write_bytes(b"junk" * 4096)
    err = _cli_refuses(lake, tmp_path, capsys, "--duckdb", str(duck))
    assert f"the DuckDB file {duck} cannot be opened" in err and "What to do" in err


def test_partitions_with_a_numeric_type_drift_and_an_extra_column_are_read_with_notes(
    hive2: Path, tmp_path: Path
) -> None:
    lake = _hive_copy(hive2, tmp_path)
    first = sorted((lake / "fact_price").rglob("*.parquet"))[0]
    rel = str(first.relative_to(lake / "fact_price"))
    df = pl.read_parquet(first, hive_partitioning=False)
    df.with_columns(pl.col("close").cast(pl.Float32), pl.lit("x").alias("vendor")).write_parquet(
        first
    )
    got = reader(lake).read()
    want = reader(hive2).read()
    notes = [n for n in got.notes if "partition" in n]
    assert any(f"type of 'close' (Float32 in {rel}" in n and "cast to Float64" in n for n in notes)
    assert any("'vendor' is present in only 1 of 2 partitions" in n for n in notes)
    a = got.tables["fact_price"]
    b = want.tables["fact_price"]
    assert a.schema["close"] == pl.Float64 and a.height == b.height
    # the one partition lost float32 precision; the others are exact
    assert_frame_equal(a.select(b.columns), b, rel_tol=1e-6)


@pytest.mark.parametrize("dtype", [pl.Datetime("ns"), pl.Datetime("ms", "UTC")])
def test_partitions_with_date_and_datetime_dates_are_read_as_dates(
    hive2: Path, tmp_path: Path, dtype: pl.DataType
) -> None:
    lake = _hive_copy(hive2, tmp_path)
    part = sorted((lake / "fact_volume").rglob("*.parquet"))[0]
    df = pl.read_parquet(part, hive_partitioning=False)
    df.with_columns(pl.col("date").cast(dtype)).write_parquet(part)
    got = reader(lake).read()
    assert any("type of 'date'" in n and "cast to Datetime" in n for n in got.notes)
    assert_frame_equal(got.tables["fact_volume"], reader(hive2).read().tables["fact_volume"])


@pytest.mark.parametrize(
    ("column", "dtype"), [("close", pl.String), ("date", pl.String), ("asset_id", pl.Int64)]
)
def test_non_numeric_type_drift_between_partitions_names_the_partition(
    hive2: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    column: str,
    dtype: pl.DataType,
) -> None:
    lake = _hive_copy(hive2, tmp_path)
    part = sorted((lake / "fact_price").rglob("*.parquet"))[0]
    df = pl.read_parquet(part, hive_partitioning=False)
    if dtype == pl.Int64:
        df = df.with_columns(pl.col(column).rank("dense").cast(pl.Int64))
    df.with_columns(pl.col(column).cast(dtype)).write_parquet(part)
    err = _cli_refuses(lake, tmp_path, capsys)
    assert f"partition {part}" in err and f"column '{column}'" in err
    assert "rewrite that partition" in err


def test_required_column_missing_from_one_partition_names_it(
    hive2: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    lake = _hive_copy(hive2, tmp_path)
    part = sorted((lake / "fact_volume").rglob("*.parquet"))[-1]
    pl.read_parquet(part, hive_partitioning=False).drop("volume").write_parquet(part)
    err = _cli_refuses(lake, tmp_path, capsys)
    assert f"partition {part} has no column 'volume'" in err


@pytest.mark.parametrize("layout", ["file", "folder"])
def test_csv_instead_of_parquet_is_named(
    clean_lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture, layout: str
) -> None:
    lake = copy_lake(clean_lake, tmp_path / "lake")
    df = pl.read_parquet(lake / "fact_price.parquet")
    (lake / "fact_price.parquet").unlink()
    if layout == "file":
        df.write_csv(lake / "fact_price.csv")
        named = "fact_price.csv"
    else:
        (lake / "fact_price" / "year=2020").mkdir(parents=True)
        df.write_csv(lake / "fact_price" / "year=2020" / "part-0.csv")
        named = "fact_price/year=2020/part-0.csv"
    err = _cli_refuses(lake, tmp_path, capsys)
    assert f"found {named}; only parquet is read; see `majors-alts import`" in err


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(0, 5)),
            st.one_of(st.none(), st.sampled_from(["BTC", "ETH", "SOL", "eth", "", "Ä"])),
            st.integers(-3, 3),
        ),
        max_size=60,
    )
)
def test_sort_rows_is_the_multi_column_sort_keeping_ties_in_order(rows) -> None:
    """``sort_rows`` (one stable pass per column) orders as ``df.sort(cols)`` and keeps rows
    with equal keys in their order: nulls, ties, non-ASCII and empty strings included."""
    df = pl.DataFrame(
        {
            "date": [None if d is None else date(2024, 1, 1 + d) for d, _, _ in rows],
            "asset_id": [a for _, a, _ in rows],
            "row": list(range(len(rows))),
            "v": [v for _, _, v in rows],
        },
        schema={"date": pl.Date, "asset_id": pl.String, "row": pl.Int64, "v": pl.Int64},
    )
    got = sort_rows(df, ["date", "asset_id"])
    assert_frame_equal(got, df.sort(["date", "asset_id"], maintain_order=True))
    assert_frame_equal(sort_rows(df, ["v"]), df.sort("v", maintain_order=True))
    assert_frame_equal(sort_rows(df, []), df)


@settings(max_examples=200, deadline=None)
@given(
    keys=st.lists(st.tuples(st.integers(0, 4), st.sampled_from(["BTC", "ETH", "SOL"])), max_size=40)
)
def test_a_repeated_key_is_never_missed(keys) -> None:
    """The hashed pre-check may flag a table without repeats (a hash collision, then the exact
    check decides), never pass one with a repeat."""
    df = pl.DataFrame(
        {"date": [date(2024, 1, 1 + d) for d, _ in keys], "asset_id": [a for _, a in keys]},
        schema={"date": pl.Date, "asset_id": pl.String},
    )
    repeats = len(set(keys)) < len(keys)
    assert _may_repeat_a_key(df, ["asset_id", "date"]) is repeats  # no collision among these


def test_several_funding_instruments_in_any_row_order_give_the_same_panel(
    tmp_path: Path,
) -> None:
    """A funding table with several instruments per asset and day (the contract allows it): the
    reader sorts it by its whole key, so the panel's average over instruments is the same bits
    whatever order the rows come in."""
    import numpy as np

    from majors_alts_monitor.market.panel import build_panel

    start, end = date(2021, 1, 1), date(2021, 6, 30)
    spec = SyntheticSpec(n_assets=8, start=start, end=end, world="planted", seed=5)
    base, _ = write_lake(generate(spec), tmp_path / "base")
    f = pl.read_parquet(base / "fact_funding.parquet")
    more = pl.concat(
        [f]
        + [
            f.with_columns(
                pl.col("instrument_id") + f"_{k}",
                pl.col("funding_rate") * (1.0 + 0.37 * k) + 1e-5 * k / 3.0,
            )
            for k in (1, 2)
        ]
    )
    panels = []
    for name, rows in (("a", more), ("b", more.sample(fraction=1.0, shuffle=True, seed=7))):
        lake = tmp_path / name
        shutil.copytree(base, lake)
        rows.write_parquet(lake / "fact_funding.parquet")
        panels.append(build_panel(LakeReader(lake).read(), start, end).funding)
    assert panels[0].tobytes() == panels[1].tobytes()
    one = build_panel(LakeReader(base).read(), start, end).funding
    assert not np.array_equal(one, panels[0], equal_nan=True)  # the mean is over 3 instruments
