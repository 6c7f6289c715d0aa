"""Shared fixtures of the update tests: a synthetic market written out in the Binance archive's
layout (``mirror``), and a lake the importers built from its first two months."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import polars as pl

from majors_alts_monitor import cli
from majors_alts_monitor.lake.importers.mirror import write_mirror
from majors_alts_monitor.lake.synthetic import SyntheticLake, SyntheticSpec, generate

SPEC = SyntheticSpec(n_assets=8, start=date(2023, 11, 1), end=date(2024, 3, 20), seed=3)
STABLES = ("USDT", "USDC", "FDUSD")
DAILY_FROM = date(2024, 3, 1)


def market() -> SyntheticLake:
    return generate(SPEC)


def source_tables(lake: SyntheticLake) -> dict[str, pl.DataFrame]:
    """The synthetic tables as a reader returns them (stables left out), open interest with an
    instrument id."""
    out = {}
    for name in (
        "fact_price",
        "fact_marketcap",
        "fact_volume",
        "fact_funding",
        "fact_open_interest",
    ):
        out[name] = lake.tables[name].filter(~pl.col("asset_id").is_in(STABLES))
    return out


def write_archive(lake: SyntheticLake, root: Path, funding_through: str = "2024-02") -> Path:
    write_mirror(source_tables(lake), root, daily_from=DAILY_FROM, funding_through=funding_through)
    return root


def import_history(arch: Path, out: Path, months: tuple[str, ...] = ("2023-11", "2023-12")) -> None:
    """A lake built by the importers from the archive's files of ``months``."""
    kl = sorted(
        p for m in months for p in (arch / "data/spot/monthly/klines").glob(f"*/1d/*-{m}.zip")
    )
    fu = sorted(
        p
        for m in months
        for p in (arch / "data/futures/um/monthly/fundingRate").glob(f"*/*-{m}.zip")
    )
    me = sorted(
        p for m in months for p in (arch / "data/futures/um/daily/metrics").glob(f"*/*-{m}-*.zip")
    )
    for source, files in (
        ("binance-klines", kl),
        ("binance-funding", fu),
        ("binance-metrics", me),
    ):
        assert cli.main(["import", source, *map(str, files), "--out", str(out)]) == 0


def copy_archive(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst
