"""The whole-market synthetic lake (``synthetic/long_tail.py``): deterministic files, the
contract the reader checks, the long tail of caps it is for (most coins far below the
eligibility line), the ordering BTC > ETH > alts, the truth against the rows, and ``synth
--caps long_tail``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from majors_alts_monitor import cli
from majors_alts_monitor.config import Config
from majors_alts_monitor.errors import OutputLocationError
from majors_alts_monitor.lake.data_io import LakeReader
from majors_alts_monitor.lake.synthetic import SyntheticSpec
from majors_alts_monitor.lake.synthetic.long_tail import alt_names, write_long_tail_lake

SPEC = SyntheticSpec(n_assets=600, start=date(2019, 1, 1), end=date(2020, 12, 31), seed=9)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_long_tail_lake(SPEC, tmp_path_factory.mktemp("lt"), chunk_assets=128)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}


def test_the_same_spec_writes_the_same_bytes(lake: tuple[Path, Path], tmp_path: Path) -> None:
    again, truth = write_long_tail_lake(SPEC, tmp_path / "again", chunk_assets=128)
    assert _files(again) == _files(lake[0]) and _files(truth) == _files(lake[1])
    # one file per table and year, one row group per chunk of assets
    assert (lake[0] / "fact_price" / "year=2020" / "part-0.parquet").is_file()


def test_it_is_a_valid_lake_with_a_long_tail_of_caps(lake: tuple[Path, Path]) -> None:
    cfg = Config()
    data = LakeReader(lake[0], aliases=cfg.universe.aliases, exclude=cfg.universe.exclude).read()
    assert data.warnings == ()
    assert data.stables == frozenset(cfg.universe.exclude)  # USDT, USDC flagged and listed
    assert set(data.tables["dim_asset"].filter(pl.col("is_stable"))["asset_id"]) == {
        "USDT",
        "USDC",
    }
    assets = set(data.tables["fact_price"]["asset_id"].unique())
    assert assets == {"BTC", "ETH", *alt_names(SPEC.n_assets)}
    cap = data.tables["fact_marketcap"].pivot(on="asset_id", index="date", values="marketcap")
    last = cap.row(-1, named=True)
    alive = np.array([v for k, v in last.items() if k.startswith("ALT") and v is not None])
    share = float((alive >= cfg.universe.min_marketcap).mean())
    assert 0.02 < share < 0.15, share  # most coins far below the eligibility line
    assert np.median(alive) < 1e7
    btc, eth = cap["BTC"].to_numpy(), cap["ETH"].to_numpy()
    alts = cap.select(pl.col("^ALT.*$")).to_numpy()
    assert (eth < btc).all() and (np.nan_to_num(alts, nan=0.0) <= eth[:, None] * 0.6 + 1e-6).all()
    funded = data.tables["fact_funding"]["asset_id"].n_unique()
    assert 2 < funded < SPEC.n_assets / 4  # perps for the large coins and a few small ones


def test_the_truth_matches_the_rows(lake: tuple[Path, Path]) -> None:
    life = pl.read_parquet(lake[1] / "lifecycle.parquet")
    px = pl.read_parquet(lake[0] / "fact_price" / "**" / "*.parquet", hive_partitioning=True)
    span = px.group_by("asset_id").agg(
        pl.col("date").min().alias("first"), pl.col("date").max().alias("last")
    )
    both = life.join(span, on="asset_id")
    assert both.height == life.height == SPEC.n_assets + 2
    assert (both["first_date"] == both["first"]).all() and (both["last_date"] == both["last"]).all()
    gone = both.filter(pl.col("fate") == "delisted")
    assert gone.height > SPEC.n_assets / 5 and (gone["last"] < SPEC.end).all()
    assert (px.group_by("asset_id", "date").len()["len"] == 1).all()


def test_synth_caps_long_tail_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "cli"
    args = ["synth", str(out), "--caps", "long_tail", "--assets", "40", "--seed", "2"]
    args += ["--start", "2020-01-01", "--end", "2020-12-31"]
    assert cli.main(args) == 0
    assert (out / "lake" / "fact_price.parquet").is_file()  # flat unless --partitioned
    assert cli.main([*args, "--quirks", "gaps"]) == 2
    assert "not offered with --caps long_tail" in capsys.readouterr().err
    (tmp_path / "theirs" / "lake").mkdir(parents=True)
    (tmp_path / "theirs" / "lake" / "keep.txt").write_text("not ours")
    with pytest.raises(OutputLocationError):
        write_long_tail_lake(SPEC, tmp_path / "theirs")
