"""One signal per run, and why the regime is what it is.

On the demo lake and both real fixture lakes, one ``run`` each (module-scoped): the dashboard's
Latest badge, the console summary, ``signals_today.json`` and the timeline's last row give the
same regime; ``signals --asof D`` for D in the run's last test window (its first day, where the
model changes, the next day and the run's last day) gives the timeline's regime, exposure and
score (to 1e-12) at D, and at the run's last day the same file (bar the
run-only warnings). One list of warnings on every surface of a run. The explain columns sum
to the score (1e-9) and agree with the signal's explain block. Unit tests pin the contribution
rule (NaN z-scores) and the days-in-regime / dwell-left rule against the state machine.
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import math
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from majors_alts_monitor import cli, pipeline
from majors_alts_monitor.config import Config
from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake
from majors_alts_monitor.regime.composite import composite_contributions, composite_score
from majors_alts_monitor.regime.hysteresis import (
    apply_hysteresis,
    dwell_filter,
    regime_age,
    transition,
)
from majors_alts_monitor.report.decision import Explain, reason
from majors_alts_monitor.report.outputs import OutputPaths
from majors_alts_monitor.report.summary import _f, signal_text


@dataclass(frozen=True)
class Run:
    name: str
    args: tuple[str, ...]  # --lake DIR or --demo
    root: Path
    console: str
    timeline: pl.DataFrame
    signal: dict
    dashboard: str


def _run(name: str, args: tuple[str, ...], root: Path) -> Run:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(["run", *args, "--output-root", str(root), "--quiet"])
    assert code == 0, name
    rep = root / "reports" / "majors_alts"
    return Run(
        name,
        args,
        root,
        out.getvalue(),
        pl.read_csv(rep / "regime_timeline.csv", try_parse_dates=True, infer_schema_length=None),
        json.loads((rep / "signals_today.json").read_text()),
        (rep / "dashboard.html").read_text(),
    )


@pytest.fixture(scope="module", params=["demo", "real", "real_binance"])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    name = request.param
    root = tmp_path_factory.mktemp(f"one_signal_{name}")
    if name == "demo":
        args: tuple[str, ...] = ("--demo",)
    else:
        lake = request.getfixturevalue("real_lake" if name == "real" else "real_binance_lake")
        args = ("--lake", str(lake))
    return _run(name, args, root)


def _badge(html: str) -> str:
    """The dashboard's Latest regime: ``<span id="latest-regime" data-regime=...>`` when the
    dashboard has it, else the badge ``class="regime regime-<NAME>"`` in ``<p class="latest">``."""
    m = re.search(r'id="latest-regime"[^>]*data-regime="([A-Z_]+)"', html) or re.search(
        r'data-regime="([A-Z_]+)"[^>]*id="latest-regime"', html
    )
    if m:
        return m.group(1)
    latest = re.search(r'<p class="latest">(.*?)</p>', html, re.S)
    assert latest, "no Latest line on the dashboard"
    m = re.search(r'class="regime regime-([A-Z_]+)"', latest.group(1))
    assert m, "no regime badge in the Latest line"
    return m.group(1)


def _console(text: str) -> tuple[str, str, str, float]:
    m = re.search(
        r"signal (\S+)\s+([A-Z_]+) \([^)]*\) -> ([A-Z_]+) \(exposure held (\S+), score (\S+), was",
        text,
    )
    assert m, text
    return m.group(1), m.group(2), m.group(3), float(m.group(5))


def _row(tl: pl.DataFrame, d: date) -> dict:
    return tl.filter(pl.col("date") == d).row(0, named=True)


def test_dashboard_console_file_and_timeline_agree(run: Run) -> None:
    last = run.timeline.row(run.timeline.height - 1, named=True)
    sig = run.signal
    assert sig["decision_date"] == last["date"].isoformat() == sig["asof"]
    assert sig["regime"] == last["regime"], run.name
    assert sig["exposure"] == pytest.approx(last["exposure"], abs=1e-12)
    assert sig["score"] == pytest.approx(last["score"], abs=1e-12)
    assert sig["model"]["fold"] == last["fold"]
    asof, regime, action, score = _console(run.console)
    assert (asof, regime, action) == (sig["asof"], sig["regime"], sig["action"])
    assert score == pytest.approx(sig["score"], abs=1e-3)
    assert sig["explain"]["reason"] in run.console
    assert _badge(run.dashboard) == sig["regime"]
    prev = run.timeline.row(run.timeline.height - 2, named=True)
    assert sig["previous_regime"] == prev["regime"]
    held_before, held_now = prev["exposure"] > 0, sig["exposure"] > 0
    expected = {
        (True, True): "HOLD",
        (True, False): "EXIT",
        (False, True): "ENTER",
        (False, False): "STAY_FLAT",
    }
    assert sig["action"] == expected[(held_before, held_now)]


def _signals(run: Run, root: Path, asof: date) -> dict:
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(
            ["signals", *run.args, "--output-root", str(root), "--quiet", "--asof", str(asof)]
        )
    assert code == 0
    # each call's own record (D, its decision day); signals_today.json keeps the newest day
    return json.loads((root / f"reports/majors_alts/signals/{asof}.json").read_text())


def test_signals_asof_inside_the_last_test_window_matches_the_timeline(
    run: Run, tmp_path: Path
) -> None:
    tl = run.timeline
    last = tl.row(tl.height - 1, named=True)
    window = tl.filter(pl.col("fold") == last["fold"])
    first_test = window["date"][0]
    # --demo keeps its lake under the output root: signals must find the same lake
    root = run.root if run.args == ("--demo",) else tmp_path
    days = [first_test, first_test + timedelta(days=1), last["date"]]
    for d in dict.fromkeys(days):
        s = _signals(run, root, d)
        row = _row(tl, d)
        assert s["decision_date"] == d.isoformat()
        assert s["regime"] == row["regime"], (run.name, d)
        assert s["exposure"] == pytest.approx(row["exposure"], abs=1e-12)
        assert s["score"] == pytest.approx(row["score"], abs=1e-12)
        assert s["model"]["fold"] == row["fold"]
        assert s["previous_regime"] == _row(tl, d - timedelta(days=1))["regime"]
        assert s["explain"]["days_in_regime"] == row["days_in_regime"]
        if d == last["date"]:
            _assert_same_signal(s, run.signal)


# Warnings only a run can give: they need the backtest (funding over the invested days) or the
# run's --start/--end; `signals` fits no backtest and has no --end, so it cannot repeat them.
RUN_ONLY_WARNINGS = (
    "funding is one-sided",
    "the lake's prices end on",
    "the lake's prices start on",
    # thin data over the run's span (the signal warns about its decision day only)
    "thin basket: fewer than",
    "long side incomplete:",
    "the short basket shrank from",
)


def _assert_same_signal(standalone: dict, of_run: dict) -> None:
    """``signals --asof`` gives the run's file apart from ``generated_at`` and the run-only
    warnings; every data-level warning (lagging tables, the decision day's book) is in both, in
    the same order. Freshness aside: the run without ``--end`` is today's call, measured against
    today (a stale lake is stale), ``signals --asof D`` a backfill of D (report/freshness.py)."""
    skip = {"generated_at", "warnings", "stale", "late", "freshness"}
    a = {k: v for k, v in standalone.items() if k not in skip}
    b = {k: v for k, v in of_run.items() if k not in skip}
    assert a == b, "signals at the run's last day differs from the run's own file"
    assert standalone["stale"] is False and standalone["freshness"]["checked"] is False
    assert of_run["stale"] == of_run["freshness"]["stale"]
    shared = [
        w for w in of_run["warnings"] if not w.startswith((*RUN_ONLY_WARNINGS, "STALE: the lake"))
    ]
    assert standalone["warnings"] == shared


def test_one_run_one_set_of_warnings(run: Run) -> None:
    """signals_today.json, run_manifest.json, the console and the dashboard list the same
    warnings: the run's and the signal's, once each."""
    manifest = json.loads((OutputPaths(run.root).artifacts / "run_manifest.json").read_text())
    warns = run.signal["warnings"]
    assert warns == manifest["warnings"] and len(set(warns)) == len(warns)
    assert f"warnings              {len(warns)} " in run.console if warns else True
    for w in warns:
        assert f"  warning  {w}\n" in run.console, w
        assert html.escape(w) in run.dashboard, w
    if run.name == "real_binance":  # open interest stops in 2025-10, prices run on
        assert any(w.startswith("table fact_open_interest ends on 2025-10-26") for w in warns)
    if run.name == "demo":
        assert any(w.startswith("funding is one-sided") for w in warns)


def test_explain_columns_sum_to_the_score_and_match_the_block(run: Run) -> None:
    tl = run.timeline
    contrib = [c for c in tl.columns if c.startswith("contrib_")]
    assert contrib, "composite mode writes one contrib_<feature> per score feature"
    assert set(run.signal["explain"]["contributions"]) == {c[8:] for c in contrib}
    for c in ("lower", "upper", "band", "min_dwell", "days_in_regime", "dwell_left"):
        assert c in tl.columns
    total = tl.select(pl.sum_horizontal(contrib).alias("s"))["s"]
    has_score = tl["score"].is_not_null()
    assert has_score.sum() > 0
    diff = (total.filter(has_score) - tl["score"].filter(has_score)).abs().max()
    assert diff < 1e-9
    nulls = tl.filter(~has_score).select(contrib)
    assert all(nulls[c].null_count() == nulls.height for c in contrib)  # burn-in: no parts
    burn = tl.filter(pl.col("fold") == -1)
    for c in ("score", "band", "min_dwell", "days_in_regime", "dwell_left", *contrib):
        assert burn[c].null_count() == burn.height, c
    oos = tl.filter(pl.col("fold") >= 0)
    assert (oos["days_in_regime"] >= 1).all()
    assert (oos["dwell_left"] >= 0).all() and (oos["dwell_left"] < oos["min_dwell"]).all()
    # within a fold the regime changes exactly where days_in_regime restarts at 1
    same_fold = oos["fold"] == oos["fold"].shift(1)
    changed = oos["regime"] != oos["regime"].shift(1)
    restart = oos["days_in_regime"] == 1
    assert ((changed & same_fold) == (restart & same_fold)).all()
    ex = run.signal["explain"]
    last = tl.row(tl.height - 1, named=True)
    for c in contrib:
        assert ex["contributions"][c[8:]] == pytest.approx(last[c], abs=1e-15)
    for k in ("lower", "upper", "band", "min_dwell", "days_in_regime", "dwell_left", "score"):
        assert ex[k] == pytest.approx(last[k], abs=1e-15), k
    assert ex["previous_score"] == pytest.approx(tl["score"][-2], abs=1e-15)
    assert ex["changed"] == (run.signal["regime"] != run.signal["previous_regime"])
    assert isinstance(ex["reason"], str) and run.signal["regime"] in ex["reason"]


# ---- the rules, unit by unit -----------------------------------------------------------------
def test_contributions_hand_case_with_nan_z() -> None:
    z = np.array([[np.nan, np.nan], [1.0, np.nan], [2.0, 3.0], [5.0, np.nan]])
    w = np.array([0.5, -1.0])
    c = composite_contributions(z, w)
    expected = np.array([[np.nan, np.nan], [0.5, 0.0], [1.0, -3.0], [2.5, 0.0]])
    np.testing.assert_array_equal(c, expected)
    # a feature with weight 0 does not make the score defined
    w0 = np.array([0.0, 1.0])
    c0 = composite_contributions(z, w0)
    assert np.isnan(c0[[0, 1, 3]]).all() and c0[2].tolist() == [0.0, 3.0]
    assert np.isnan(composite_score(z, w0)[[0, 1, 3]]).all()


@settings(max_examples=200, deadline=None)
@given(
    data=st.lists(
        st.lists(st.one_of(st.floats(-5, 5), st.just(float("nan"))), min_size=4, max_size=4),
        min_size=1,
        max_size=30,
    ),
    weights=st.lists(st.sampled_from([-1.0, -0.5, 0.0, 0.5, 1.0]), min_size=4, max_size=4),
)
def test_contributions_sum_to_the_score(data: list[list[float]], weights: list[float]) -> None:
    z, w = np.array(data), np.array(weights)
    score, c = composite_score(z, w), composite_contributions(z, w)
    assert (np.isnan(score) == np.isnan(c).all(axis=1)).all()
    ok = np.isfinite(score)
    np.testing.assert_allclose(c[ok].sum(axis=1), score[ok], rtol=0, atol=1e-9)


def _slow_age(codes: np.ndarray, md: int) -> tuple[list[int], list[int]]:
    """Counted by hand; the machines start in BALANCED (1) before the first day."""
    days, left, run, entered = [], [], 0, False
    for i, c in enumerate(codes):
        if c != (codes[i - 1] if i > 0 else 1):
            run, entered = 1, True
        else:
            run += 1
        days.append(run)
        left.append(max(md - run, 0) if entered else 0)
    return days, left


@settings(max_examples=200, deadline=None)
@given(
    score=st.lists(st.one_of(st.floats(-2, 2), st.just(float("nan"))), min_size=1, max_size=80),
    band=st.sampled_from([0.0, 0.1, 0.3]),
    md=st.integers(1, 6),
)
def test_regime_age_follows_the_state_machine(score: list[float], band: float, md: int) -> None:
    """dwell_left > 0 forbids a switch the next day; dwell_left == 0 lets the machine follow
    its transition rule; both agree with a slow count, for the score and the dwell machines."""
    s = np.array(score)
    lo, hi = -0.5, 0.5
    codes = apply_hysteresis(s, lo, hi, band, md)
    days, left = regime_age(codes, md)
    assert (days.tolist(), left.tolist()) == _slow_age(codes, md)
    for d in range(len(s) - 1):
        nxt = int(transition(int(codes[d]), s[d + 1], lo, hi, band))
        if left[d] > 0:
            assert codes[d + 1] == codes[d]
        else:
            assert codes[d + 1] == nxt
    raw = np.where(np.isnan(s), -1, np.sign(np.nan_to_num(s)) + 1).astype(np.int8)
    filt = dwell_filter(raw, md)
    fd, fl = regime_age(filt, md)
    assert (fd.tolist(), fl.tolist()) == _slow_age(filt, md)


# ---- unsupervised modes: what the explain columns show -------------------------------------
def test_kmeans_mode_explain_and_signal(tmp_path: Path) -> None:
    start, end = date(2019, 1, 1), date(2020, 12, 31)
    lake, _ = write_lake(
        generate(SyntheticSpec(n_assets=20, start=start, end=end, seed=5)), tmp_path / "s"
    )
    cfg = Config().with_overrides(lake=lake, output_root=tmp_path / "out")
    cfg = cfg.model_copy(
        update={
            "regime": cfg.regime.model_copy(update={"mode": "kmeans"}),
            "stats": cfg.stats.model_copy(update={"n_boot": 50}),
        }
    )
    res = pipeline.run(cfg, start, end)
    tl = res.timeline
    assert not [c for c in tl.columns if c.startswith("contrib_")]
    oos = tl.filter(pl.col("fold") >= 0)
    assert oos["band"].null_count() == oos.height and oos["lower"].null_count() == oos.height
    assert (oos["min_dwell"] == cfg.regime.min_dwell).all()
    assert (oos["days_in_regime"] >= 1).all()
    sig, last = res.signal, tl.row(tl.height - 1, named=True)
    assert sig["regime"] == last["regime"] and sig["explain"]["contributions"] == {}
    assert sig["explain"]["lower"] is None and sig["explain"]["days_in_regime"] >= 1
    s = pipeline.signal(cfg, end)
    _assert_same_signal(s, sig)
    assert math.isclose(s["score"], last["score"], abs_tol=1e-12)


def _ex(codes, score, days, left, fold=None, md=2) -> Explain:
    n = len(codes)
    return Explain(
        codes=np.array(codes, dtype=np.int8),
        score=np.array(score, dtype=float),
        fold_of=np.array(fold if fold is not None else [0] * n),
        exposure=np.zeros(n),
        days_in_regime=np.array(days),
        dwell_left=np.array(left),
        lower=np.full(n, -0.5),
        upper=np.full(n, 0.5),
        band=np.full(n, 0.1),
        min_dwell=np.full(n, float(md)),
        contrib=None,
    )


@pytest.mark.parametrize(
    ("ex", "expected"),
    [
        (
            _ex([1, 1, 1, 2], [0.0, 0.1, 0.0, -0.62], [1, 2, 3, 1], [0, 0, 0, 1]),
            "score -0.62 crossed below lower -0.50 - band 0.10 after 3 days in BALANCED "
            "(min dwell 2): RISK_ON_ALTS",
        ),
        (
            _ex([1, 0, 0], [0.0, 0.8, -0.9], [1, 1, 2], [0, 2, 1], md=3),
            "score -0.90 points to RISK_ON_ALTS, but RISK_ON_MAJORS had been held 1 day of min "
            "dwell 3: kept (2 days, dwell left 1)",
        ),
        (
            _ex([0, 0, 1], [0.8, 0.7, 0.3], [4, 5, 1], [0, 0, 1]),
            "score 0.30 fell below upper 0.50 - band 0.10 after 5 days in RISK_ON_MAJORS "
            "(min dwell 2): BALANCED",
        ),
        (
            _ex([1, 1], [0.2, 0.55], [6, 7], [0, 0]),
            "score 0.55 is inside [lower - band, upper + band] = [-0.60, 0.60]: BALANCED held "
            "for 7 days",
        ),
        (
            _ex([0, 0], [0.6, 0.3], [6, 9], [0, 0], fold=[0, 1]),  # no change
            "fold 1's model takes over today (score 0.30); run from its train start it is in "
            "RISK_ON_MAJORS for 9 days (min dwell 2)",
        ),
        (
            _ex([0, 2], [0.8, -0.62], [6, 9], [0, 0], fold=[6, 7]),
            "fold 7's model takes over today: RISK_ON_MAJORS -> RISK_ON_ALTS; score -0.62 is "
            "below lower -0.50 - band 0.10; run from its train start it is in RISK_ON_ALTS for "
            "9 days (min dwell 2)",
        ),
        (
            _ex([1, 0], [0.0, 0.55], [6, 1], [0, 1], fold=[2, 3]),
            "fold 3's model takes over today: BALANCED -> RISK_ON_MAJORS; score 0.55 is inside "
            "[lower - band, upper + band] = [-0.60, 0.60]; run from its train start it is in "
            "RISK_ON_MAJORS for 1 day (min dwell 2)",
        ),
        (
            _ex([1, 0], [0.2, 0.7], [6, 2], [0, 0], fold=[-1, 0]),
            "fold 0's model takes over today (score 0.70); run from its train start it is in "
            "RISK_ON_MAJORS for 2 days (min dwell 2)",
        ),
        (
            _ex([2, 2], [-0.9, np.nan], [3, 4], [0, 0]),
            "score undefined today (no score feature has a z-score): RISK_ON_ALTS kept",
        ),
    ],
)
def test_reason_sentences(ex: Explain, expected: str) -> None:
    assert reason(ex, len(ex.codes) - 1, "composite") == expected


def test_reason_on_a_fold_boundary_in_the_unsupervised_modes() -> None:
    ex = _ex([2, 0], [0.1, 0.9], [4, 3], [0, 0], fold=[4, 5])
    assert reason(ex, 1, "hmm") == (
        "fold 5's model takes over today: RISK_ON_ALTS -> RISK_ON_MAJORS; filtered probability "
        "of RISK_ON_MAJORS 0.90; run from its train start it is in RISK_ON_MAJORS for 3 days "
        "(min dwell 2)"
    )


def test_console_never_prints_negative_zero(tmp_path: Path) -> None:
    sig = {
        "asof": "2024-01-02",
        "decision_date": "2024-01-02",
        "previous_regime": "BALANCED",
        "regime": "BALANCED",
        "score": -0.0001,
        "action": "STAY_FLAT",
        "exposure": -0.0,
        "book_betas": {"btc": 0.0, "eth": -1e-17},
        "book": [],
        "targets": [],
        "stale": False,
        "warnings": [],
    }
    text = signal_text(sig, tmp_path / "signals_today.json")
    assert "betas    BTC 0.000  ETH 0.000" in text and "score 0.000" in text
    assert "-0.0" not in text
    assert _f(-0.0004, pct=True) == "-0.04%" and _f(-0.00004, pct=True) == "0.00%"
    assert _f(-0.0051) == "-0.01"
