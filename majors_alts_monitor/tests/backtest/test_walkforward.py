"""Tests for the walk-forward splits (``walkforward.make_folds``) and a pipeline-level leakage
test: rewriting every table of a synthetic lake after a fold's last training label (returns
scaled, volumes, caps, funding and open interest changed, some alts delisted) must not change
that fold's or any earlier fold's chosen parameters. Seeds are fixed."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from majors_alts_monitor import pipeline
from majors_alts_monitor.backtest.folds import make_folds
from majors_alts_monitor.config import Config
from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake


# ---- make_folds ----------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(
    first_day=st.integers(0, 300),
    length=st.integers(0, 3000),
    train_days=st.integers(1, 800),
    test_days=st.integers(1, 200),
    purge_days=st.integers(0, 60),
    scheme=st.sampled_from(["rolling", "anchored"]),
)
def test_make_folds_properties(first_day, length, train_days, test_days, purge_days, scheme):
    last = first_day + length
    folds = make_folds(
        first_day,
        last,
        train_days=train_days,
        test_days=test_days,
        purge_days=purge_days,
        scheme=scheme,
    )
    first_test = first_day + train_days + purge_days
    assert bool(folds) == (first_test <= last)
    for k, f in enumerate(folds):
        assert f.index == k
        assert f.train_start <= f.train_end < f.test_start <= f.test_end
        assert f.test_start - f.train_end - 1 == purge_days  # the purge gap, exactly
        assert f.train_start >= first_day
        assert f.test_end <= last  # nothing past the last decision with a next-day return
        assert f.test_end - f.test_start + 1 <= test_days
        if scheme == "rolling":
            assert f.train_end - f.train_start + 1 == train_days
        else:
            assert f.train_start == first_day
    if folds:
        assert folds[0].test_start == first_test
        assert folds[-1].test_end == last  # the test windows run to the end
        for a, b in zip(folds, folds[1:], strict=False):
            assert b.test_start == a.test_end + 1  # contiguous, no overlap
            assert a.test_end - a.test_start + 1 == test_days  # only the last may be short
        covered = np.concatenate([np.arange(f.test_start, f.test_end + 1) for f in folds])
        np.testing.assert_array_equal(covered, np.arange(first_test, last + 1))


def test_make_folds_hand_case() -> None:
    folds = make_folds(10, 60, train_days=20, test_days=15, purge_days=3)
    got = [(f.train_start, f.train_end, f.test_start, f.test_end) for f in folds]
    assert got == [(10, 29, 33, 47), (25, 44, 48, 60)]
    anchored = make_folds(10, 60, train_days=20, test_days=15, purge_days=3, scheme="anchored")
    assert [(f.train_start, f.train_end) for f in anchored] == [(10, 29), (10, 44)]
    assert make_folds(10, 32, train_days=20, test_days=15, purge_days=3) == []


# ---- pipeline-level leakage ----------------------------------------------------------------
START, END = date(2019, 1, 1), date(2021, 12, 31)


def _config(lake: Path, out: Path) -> Config:
    cfg = Config().with_overrides(lake=lake, output_root=out)
    return cfg.model_copy(update={"stats": cfg.stats.model_copy(update={"n_boot": 100})})


_base_config = _config


def _rewrite_after(src: Path, dst: Path, cutoff: date, seed: int = 0) -> None:
    """A copy of the lake whose rows dated after ``cutoff`` are changed: every asset's price
    path after the cutoff gets its own drift and a wave (so returns, the book and every
    feature change), caps follow prices, volumes and open interest are rescaled, funding is
    shifted and sign-flipped, and three alts stop trading (delist) after the cutoff."""
    shutil.copytree(src, dst)
    rng = np.random.default_rng(seed)
    price = pl.read_parquet(src / "fact_price.parquet")
    assets = sorted(price["asset_id"].unique().to_list())
    drift = dict(zip(assets, rng.uniform(-0.01, 0.01, len(assets)), strict=True))
    alts = [a for a in assets if a.startswith("ALT")]
    gone = set(rng.choice(alts, 3, replace=False).tolist())
    after = pl.col("date") > cutoff
    t = (pl.col("date") - pl.lit(cutoff)).dt.total_days().cast(pl.Float64)
    factor = (
        t * pl.col("asset_id").replace_strict(drift, return_dtype=pl.Float64)
        + 0.3 * (t / 9.0).sin()
    ).exp()

    def write(name: str, df: pl.DataFrame) -> None:
        if "asset_id" in df.columns and "date" in df.columns:
            df = df.filter(~(after & pl.col("asset_id").is_in(list(gone))))
        df.write_parquet(dst / f"{name}.parquet")

    write(
        "fact_price",
        price.with_columns(pl.when(after).then(pl.col("close") * factor).otherwise("close")),
    )
    mc = pl.read_parquet(src / "fact_marketcap.parquet")
    write(
        "fact_marketcap",
        mc.with_columns(
            pl.when(after).then(pl.col("marketcap") * factor * 1.7).otherwise("marketcap")
        ),
    )
    vol = pl.read_parquet(src / "fact_volume.parquet")
    write(
        "fact_volume",
        vol.with_columns(
            pl.when(after).then(pl.col("volume") * (2.0 + (t / 5.0).cos())).otherwise("volume")
        ),
    )
    fund = pl.read_parquet(src / "fact_funding.parquet")
    write(
        "fact_funding",
        fund.with_columns(
            pl.when(after).then(-pl.col("funding_rate") + 0.002).otherwise("funding_rate")
        ),
    )
    oi = pl.read_parquet(src / "fact_open_interest.parquet")
    write(
        "fact_open_interest",
        oi.with_columns(
            pl.when(after).then(pl.col("open_interest_usd") * 3.0).otherwise("open_interest_usd")
        ),
    )


@pytest.mark.parametrize("mode", ["forecast", "composite"])
def test_changing_data_after_train_end_does_not_change_the_fold(tmp_path: Path, mode: str) -> None:
    spec = SyntheticSpec(n_assets=30, start=START, end=END, seed=11)
    lake, _ = write_lake(generate(spec), tmp_path / "synth")

    def _config(lake: Path, out: Path) -> Config:  # the module's, in this mode
        cfg = _base_config(lake, out)
        return cfg.model_copy(update={"regime": cfg.regime.model_copy(update={"mode": mode})})

    base = pipeline.run(_config(lake, tmp_path / "out_a"), START, END)
    folds = base.kpis["walk_forward"]["folds"]
    assert len(folds) >= 5
    k = 2
    cutoff = date.fromisoformat(folds[k]["train_end"])  # the fold's last training label day
    # the reported train_end is the pnl day of the last train decision; the test starts later
    assert date.fromisoformat(folds[k]["test_start"]) > cutoff + timedelta(days=1)
    changed_lake = tmp_path / "changed"
    _rewrite_after(lake, changed_lake, cutoff)
    changed = pipeline.run(_config(changed_lake, tmp_path / "out_b"), START, END)
    cfolds = changed.kpis["walk_forward"]["folds"]
    assert len(cfolds) == len(folds)
    for j in range(k + 1):
        assert cfolds[j]["params"] == folds[j]["params"], f"fold {j} saw the future"
        assert cfolds[j]["train_sharpe"] == folds[j]["train_sharpe"], f"fold {j}"
        assert cfolds[j]["train_end"] == folds[j]["train_end"]
    # the rewrite did reach the pipeline: later out-of-sample results differ
    both = base.pnl.join(changed.pnl, on="date", suffix="_changed").filter(
        pl.col("date") > cutoff + timedelta(days=1)
    )
    assert both.height > 0
    assert not np.allclose(
        both["benchmark_net_return"].to_numpy(),
        both["benchmark_net_return_changed"].to_numpy(),
        atol=1e-9,
    )
    later = [j for j in range(k + 1, len(folds)) if cfolds[j]["params"] != folds[j]["params"]]
    print(f"cutoff {cutoff}: folds 0..{k} unchanged; later folds with new params: {later}")


@pytest.mark.parametrize("scheme", ["rolling", "anchored"])
def test_pipeline_folds_follow_make_folds(tmp_path: Path, scheme: str) -> None:
    spec = SyntheticSpec(n_assets=20, start=START, end=date(2020, 12, 31), seed=2)
    lake, _ = write_lake(generate(spec), tmp_path / "synth")
    cfg = _config(lake, tmp_path / "out")
    cfg = cfg.model_copy(
        update={
            "walkforward": cfg.walkforward.model_copy(
                update={"train_days": 200, "test_days": 60, "scheme": scheme}
            )
        }
    )
    res = pipeline.run(cfg, START, date(2020, 12, 31))
    rows = res.kpis["walk_forward"]["folds"]
    test_days = [
        (date.fromisoformat(r["test_start"]), date.fromisoformat(r["test_end"])) for r in rows
    ]
    for (_, e0), (s1, _) in zip(test_days, test_days[1:], strict=False):
        assert s1 == e0 + timedelta(days=1)
    for r in rows:
        gap = (date.fromisoformat(r["test_start"]) - date.fromisoformat(r["train_end"])).days - 1
        assert gap == cfg.walkforward.purge_days
    if scheme == "anchored":
        assert len({r["train_start"] for r in rows}) == 1
    # the out-of-sample rows are exactly the test windows
    assert res.pnl["date"].min() == test_days[0][0] and res.pnl["date"].max() == test_days[-1][1]
    assert res.pnl.height == (test_days[-1][1] - test_days[0][0]).days + 1


def test_last_day_opening_a_fold_is_labelled_by_that_fold(tmp_path: Path) -> None:
    """The one-signal rule at a fold boundary: when the run's last day is the first test day of
    a fold (in the schedule from the run's origin), that fold's model labels it, as
    ``signals --asof`` would; the fold has no out-of-sample return yet, so it is not among the
    scored folds of kpis.json or trials.parquet."""
    end = date(2020, 12, 31)
    spec = SyntheticSpec(n_assets=20, start=START, end=end, seed=2)
    lake, _ = write_lake(generate(spec), tmp_path / "synth")
    cfg = _config(lake, tmp_path / "out")
    cfg = cfg.model_copy(
        update={"walkforward": cfg.walkforward.model_copy(update={"test_days": 60})}
    )
    p = pipeline.prepare(cfg, pipeline.make_reader(cfg).read(START, end), START, end)
    folds = pipeline.fold_schedule(cfg, p.first_day, p.panel.n_days - 1)
    assert len(folds) >= 3
    opens = folds[-1].test_start
    last = date.fromisoformat(str(np.datetime64(p.panel.dates[opens], "D")))
    res = pipeline.run(cfg, START, last)
    tl = res.timeline
    n_scored = len(res.kpis["walk_forward"]["folds"])
    assert tl["fold"][-1] == n_scored == folds[-1].index  # the label-only fold
    assert tl["fold"][-2] == n_scored - 1
    assert res.trials["fold"].max() == n_scored - 1
    assert res.pnl["date"].max() == last  # held over the last day: decided the day before
    sig = res.signal
    assert sig["model"]["fold"] == folds[-1].index
    assert sig["regime"] == tl["regime"][-1] and sig["previous_regime"] == tl["regime"][-2]
    assert "takes over today" in sig["explain"]["reason"]
    # the same fold's label on that day in the longer run (same origin, more data)
    longer = pipeline.run(cfg, START, last + timedelta(days=5))
    row = longer.timeline.filter(pl.col("date") == last).row(0, named=True)
    assert row["fold"] == folds[-1].index and row["regime"] == sig["regime"]
    assert abs(row["score"] - sig["score"]) < 1e-12
