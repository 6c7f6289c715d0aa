"""A run that keeps only its candidates' rows (``market/scope.py``, issue 22) checks the lake as
a whole read does (issue 17) and refuses thin days as a panel of the whole lake would (issue 21).

The lake: a synthetic market of 38 alts with a narrow universe (a basket of 8, a margin of 1,
the top 2 by market cap, a 500 M USD cap floor), so that about half the coins never enter the
panel. Thirty-three alts print no price for three months (the basket falls below
``min_basket_names`` and shrinks overnight while alts of every rank stop together), ETH has a
ten-day hole, and one coin that is never a candidate carries every kind of broken row: a
negative, a missing and an absurd close, rows dated 2099 and 2001, a cap and a volume beyond
physical sense or negative, and identical duplicate rows above the warning share.
"""

from __future__ import annotations

import contextlib
import io
import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

from majors_alts_monitor import cli, pipeline
from majors_alts_monitor.config import Config
from majors_alts_monitor.errors import LakeError
from majors_alts_monitor.lake.lake_data import LakeData
from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake
from majors_alts_monitor.market.thin import Tradeable

SPEC = SyntheticSpec(n_assets=40, start=date(2020, 1, 1), end=date(2022, 12, 31), seed=5)
UNIVERSE = {
    "basket_size": 8,
    "candidate_margin": 1,
    "candidate_top_marketcap": 2,
    "min_marketcap": 5e8,
}
GONE = [f"ALT{i:03d}" for i in range(5, 38)]  # 33 of the 38 alts
HOLE = (date(2022, 3, 1), date(2022, 5, 31))
ETH_HOLE = (date(2022, 8, 1), date(2022, 8, 10))
DUPLICATES = 60  # above limits.rejected_rows_warn_share (0.1%) of about 42,000 price rows
FAST = {
    "regime": {"grid": {"max_sets": 60}},
    "stats": {"n_boot": 200, "pbo_blocks": 8},
    "report": {"robustness": False},
    "universe": UNIVERSE,
}


def config(lake: Path, out: Path, **data: object) -> Config:
    cfg = Config().with_overrides(lake=lake, output_root=out)
    cfg = cfg.model_copy(update={"universe": cfg.universe.model_copy(update=UNIVERSE)})
    if data:
        cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update=data)})
    return cfg


def _set(df: pl.DataFrame, col: str, asset: str, day: date, value: float) -> pl.DataFrame:
    hit = (pl.col("asset_id") == asset) & (pl.col("date") == day)
    assert df.filter(hit).height == 1
    return df.with_columns(pl.when(hit).then(pl.lit(value)).otherwise(pl.col(col)).alias(col))


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The lake of the module doc and the coin with the broken rows (never a candidate)."""
    out = tmp_path_factory.mktemp("scope_checks")
    lake = write_lake(generate(SPEC), out)[0]
    price = pl.read_parquet(lake / "fact_price.parquet")
    gone = pl.col("asset_id").is_in(GONE) & pl.col("date").is_between(*HOLE)
    eth = (pl.col("asset_id") == "ETH") & pl.col("date").is_between(*ETH_HOLE)
    price = price.filter(~(gone | eth))
    price.write_parquet(lake / "fact_price.parquet")
    cfg = config(lake, out / "o")
    clean = pipeline.read_lake(cfg, pipeline.make_reader(cfg), None, None)
    assert clean.scope is not None
    outside = sorted(
        set(price["asset_id"].unique().to_list())
        - set(clean.scope.panel_assets)
        - clean.stables
        - set(GONE)
    )
    bad = outside[0]
    d = [date(2021, 2, 1), date(2021, 2, 2), date(2021, 2, 3)]
    price = _set(price, "close", bad, d[0], -1.0)
    price = _set(price, "close", bad, d[1], float("nan"))
    price = _set(price, "close", bad, d[2], 1e13)
    mine = price.filter(pl.col("asset_id") == bad)
    odd = mine.head(2).with_columns(pl.Series("date", [date(2099, 1, 1), date(2001, 1, 1)]))
    again = mine.filter(pl.col("date") >= date(2021, 3, 1)).head(DUPLICATES)
    price = pl.concat([price, odd, again])
    price.write_parquet(lake / "fact_price.parquet")
    cap = pl.read_parquet(lake / "fact_marketcap.parquet")
    _set(cap, "marketcap", bad, d[0], 1e16).write_parquet(lake / "fact_marketcap.parquet")
    vol = pl.read_parquet(lake / "fact_volume.parquet")
    _set(vol, "volume", bad, d[1], -5.0).write_parquet(lake / "fact_volume.parquet")
    return lake, bad


def _reads(cfg: Config, window: tuple[date | None, date | None]) -> tuple[LakeData, LakeData]:
    reader = pipeline.make_reader(cfg)
    return pipeline.read_lake(cfg, reader, *window), reader.read(*window)


@pytest.mark.parametrize("window", [(None, None), (date(2020, 6, 1), date(2022, 6, 30))])
def test_a_non_candidates_broken_rows_are_counted_as_a_whole_read_counts_them(
    lake: tuple[Path, str], tmp_path: Path, window: tuple[date | None, date | None]
) -> None:
    lake_dir, bad = lake
    scoped, full = _reads(config(lake_dir, tmp_path), window)
    assert scoped.scope is not None and bad not in scoped.scope.panel_assets
    assert len(scoped.scope.panel_assets) < scoped.scope.n_assets - 10
    assert scoped.rejected == full.rejected
    assert scoped.warnings == full.warnings
    assert scoped.notes[:-1] == full.notes and scoped.notes[-1].startswith("scope: ")
    assert scoped.table_stats() == {n: t for n, t in full.table_stats().items()}
    price = full.rejected["fact_price"]["rejected"]
    assert set(price) == {
        "date out of range",
        "close null, NaN or infinite",
        "close not > 0",
        "close beyond physical sense",
        "identical duplicate row",
    }
    assert price["identical duplicate row"]["rows"] == DUPLICATES
    assert price["date out of range"]["rows"] == 2  # 2099 and 2001, whatever the window
    for reason, got in price.items():
        if reason != "identical duplicate row":  # counted without a key, as read counts it
            assert got["first"]["asset_id"] == bad, reason
    assert full.rejected["fact_marketcap"]["rejected"]["marketcap beyond physical sense"][
        "first"
    ] == {"asset_id": bad, "date": "2021-02-01"}
    assert full.rejected["fact_volume"]["rejected"]["volume not >= 0"]["rows"] == 1
    said = [w for w in full.warnings if bad in w or "left out as missing or duplicated" in w]
    assert len(said) >= 6


@pytest.mark.parametrize(
    ("data", "limits", "words"),
    [
        ({"on_bad_values": "error"}, {}, "rows dated before 2009-01-03"),
        ({}, {"rejected_rows_error_share": 1e-5}, "limits.rejected_rows_error_share"),
    ],
)
def test_a_non_candidates_broken_rows_refuse_the_lake_as_a_whole_read_does(
    lake: tuple[Path, str], tmp_path: Path, data: dict, limits: dict, words: str
) -> None:
    lake_dir, bad = lake
    cfg = config(lake_dir, tmp_path, **data)
    cfg = cfg.model_copy(update={"limits": cfg.limits.model_copy(update=limits)})
    reader = pipeline.make_reader(cfg)
    with pytest.raises(LakeError) as full:
        reader.read()
    with pytest.raises(LakeError) as scoped:
        pipeline.read_lake(cfg, reader, None, None)
    assert str(scoped.value) == str(full.value)
    assert words in str(full.value) and bad in str(full.value)


def _same_tradeable(a: Tradeable, b: Tradeable) -> None:
    for name in ("ok", "thin", "no_btc", "no_eth"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.min_names == b.min_names and a.drops == b.drops


@pytest.mark.parametrize("end", [None, date(2022, 3, 20)])
def test_thin_days_on_a_scoped_panel_are_the_whole_lakes(
    lake: tuple[Path, str], tmp_path: Path, end: date | None
) -> None:
    """The basket's size, the majors' prices and the alts that stop printing (of every rank)
    come out of the candidates' panel as out of the whole lake's; cut at a thin day too (what
    ``signals --asof`` reads)."""
    lake_dir, _ = lake
    cfg = config(lake_dir, tmp_path)
    scoped, full = _reads(cfg, (None, end))
    s, e = scoped.price_span()
    ps, pf = pipeline.prepare(cfg, scoped, s, e), pipeline.prepare(cfg, full, s, e)
    assert ps.panel.n_assets < pf.panel.n_assets - 10
    ts, tf = ps.tradeable, pf.tradeable
    assert ts is not None and tf is not None
    _same_tradeable(ts, tf)
    assert ts.reasons(ps.book.n_names) == tf.reasons(pf.book.n_names)
    assert np.array_equal(ps.book.n_names, pf.book.n_names)
    hole = ps.panel.day(HOLE[0])
    assert ts.thin[hole + 1 : hole + 30].all()  # the basket below min_basket_names
    drop = next(d for d in ts.drops if d.day == hole)
    # the drop counts alts that never entered the panel: the whole lake's, not the panel's
    price = pl.read_parquet(lake_dir / "fact_price.parquet")
    before = price.filter(pl.col("date") == HOLE[0] - timedelta(days=1))["asset_id"].to_list()
    stopped = set(before) & set(GONE)
    in_panel = len(stopped & set(ps.panel.assets))
    assert drop.ended_all == len(stopped) > in_panel > 0
    if end is None:
        # the first day, the hole's days past the carry (max_gap_days) and the day it reopens
        n_hole = (ETH_HOLE[1] - ETH_HOLE[0]).days + 1
        assert ts.no_eth.sum() == 1 + n_hole - cfg.data.max_gap_days + 1
    else:
        assert not ts.ok[-1] and ts.thin[-1]  # the decision day of the cut lake is refused


def test_a_scoped_run_writes_the_whole_reads_rejected_rows_and_thin_data(
    lake: tuple[Path, str], tmp_path: Path
) -> None:
    lake_dir, _ = lake
    cfg_file = tmp_path / "config.yaml"
    cfg_file.write_text(yaml.safe_dump(FAST))
    args = ["run", "--lake", str(lake_dir), "--config", str(cfg_file)]
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main([*args, "--output-root", str(tmp_path), "--quiet"]) == 0
    art, rep = tmp_path / "artifacts/majors_alts", tmp_path / "reports/majors_alts"
    manifest = json.loads((art / "run_manifest.json").read_text())
    cfg = config(lake_dir, tmp_path)
    full = pipeline.make_reader(cfg).read(None, None)
    assert manifest["rejected_rows"] == json.loads(json.dumps(full.rejected))
    assert manifest["universe"]["assets"] == len(
        set(full.tables["fact_price"]["asset_id"].to_list())
    )
    s, e = full.price_span()
    pf = pipeline.prepare(cfg, full, s, e)
    assert pf.tradeable is not None
    drops = json.loads((rep / "kpis.json").read_text())["thin_data"]["basket_drops"]
    assert [(d["names_before"], d["names_after"], d["alts_ended"]) for d in drops] == [
        (d.before, d.after, d.ended_all) for d in pf.tradeable.drops
    ]
    tl = pl.read_csv(rep / "regime_timeline.csv", try_parse_dates=True, infer_schema_length=None)
    reasons = dict(zip(pf.panel.dates.tolist(), pf.tradeable.reasons(pf.book.n_names), strict=True))
    assert tl.height > 300
    for day, why in zip(tl["date"].to_list(), tl["no_trade_reason"].to_list(), strict=True):
        assert why == reasons[day], day
