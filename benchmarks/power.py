"""Power benchmark: how much of a planted edge each regime mode and each league baseline
finds, and how often the headline test claims an edge in worlds that have none.

Planted worlds: every design of ``lake.synthetic.DESIGNS`` (the regime shows through funding,
volume, momentum, breadth and dominance, volatility or a mix of weak signals, with spells of
about 33 to 143 days), 60 assets, 2019-01-01..2026-01-08, the package's default config (costs
on). For each world the truth is kept and, per mode and per baseline:

* ``sharpe``: out-of-sample Sharpe, net of costs (the run's engine, folds and costs);
* ``label_acc``: share of out-of-sample days whose label (3 regimes; decided at ``d``, held
  over ``d + 1``) is the true regime of ``d + 1``; ``invest_acc``: share whose invested / flat
  call matches "the true regime of ``d + 1`` is RISK_ON_MAJORS" (baselines are only on or off);
* the oracle: the always-on book gated by the true regime (on exactly the days the truth is
  RISK_ON_MAJORS), same costs. A design's **captured share** is the mean of a mode's Sharpe
  over the design's worlds divided by the mean of the oracle's;
* ``beats_on``: the share of worlds whose Sharpe beats the always-on book's;
* the design's **signal strength**: the best single registered feature's absolute correlation
  with the true regime (ordinal: +1 RISK_ON_MAJORS, 0 BALANCED, -1 RISK_ON_ALTS) over the
  out-of-sample days, raw value or z-score, whichever is higher. A design whose mean strength
  falls outside the band 0.5-0.85 is marked OUT OF BAND and left out of the pooled figures.

Null worlds (``synth --world null``: no drift, no channel), costs off (fees, slippage and
funding), so an out-of-sample Sharpe centres on 0: per mode the headline test (SPA, Hansen's
consistent p-value, of the mode's trial family against the always-flat book: every grid set
for ``composite`` (a seeded sample of at most ``stats.effective_n_max_trials``), every
penalty for ``jump``, the stitched model for the one-trial modes) and per baseline (its own
returns against flat) is counted as claiming an edge when p < 0.05.

Seeds: development used planted seeds 101-106 and null seeds 901-910 (``--seeds dev``); the
report uses fresh ones (``--seeds report``: planted 2001-2006 per design, null 3001-3400,
the first 100 with every mode, all 400 with ``forecast`` and ``composite``), never looked at
while choosing the default. Results are checkpointed per world (one JSON per
world and tag) under ``--out`` (default ``/work/wt/i19_bench_out`` when it exists, else
``cache/power``), so an interrupted run resumes; the tag hashes the package's source, so a
changed model never reuses stale worlds.

Run (2 cores, other jobs about: under ``nice``, one at a time):
``nice -n 10 python benchmarks/power.py --quick`` (development: 6 designs x 1 dev seed, 10
null worlds, modes forecast and composite; about 5 minutes), and for the report
``nice -n 10 python benchmarks/power.py --seeds report`` (6 designs x 6 seeds, 400 null
worlds, every mode; several hours: bound the slow modes with ``--few`` and the null worlds
with ``--null N``). ``--markdown`` prints the tables for docs/regimes.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from majors_alts_monitor import pipeline, stats
from majors_alts_monitor.backtest import league
from majors_alts_monitor.backtest.stages import backtest_exposure
from majors_alts_monitor.backtest.trials import trial_daily_returns
from majors_alts_monitor.backtest.walk import walk_forward
from majors_alts_monitor.config import REGIMES, Config
from majors_alts_monitor.errors import MonitorError
from majors_alts_monitor.lake.synthetic import DESIGNS, SyntheticSpec, generate, write_lake
from majors_alts_monitor.regime.hysteresis import MAJORS

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = (
    Path("/work/wt/i19_bench_out")
    if Path("/work/wt/i19_bench_out").is_dir()
    else ROOT / "cache/power"
)
MODES = ("forecast", "composite", "jump", "hmm", "kmeans")
BASELINES = tuple(r for r in league.RULES if r != "always_flat")
SEEDS = {
    "dev": {"planted": list(range(101, 107)), "null": list(range(901, 911))},
    "report": {"planted": list(range(2001, 2007)), "null": list(range(3001, 3401))},
}
BAND = (0.5, 0.85)
N_ASSETS = 60
NULL_N_BOOT = 500  # SPA resamples on the null worlds (the composite's family is 1,000 sets)


def source_tag() -> str:
    """A hash of the source the results depend on (the lake, market, regime, backtest and
    stats wings, the config and the pipeline): results are keyed by the code that made them."""
    h = hashlib.sha256()
    pkg = ROOT / "majors_alts_monitor"
    wings = ("lake", "market", "regime", "backtest", "stats")
    for f in sorted(pkg.rglob("*.py")):
        rel = f.relative_to(pkg)
        if rel.parts[0] in wings or rel.as_posix() in ("config.py", "pipeline.py"):
            h.update(rel.as_posix().encode() + b"\0" + f.read_bytes())
    h.update((pkg / "config.yaml").read_bytes())
    return h.hexdigest()[:10]


OVERRIDES: dict[str, object] = {}  # --set key.path=value, applied to every world's config


def _overridden() -> Config:
    import yaml

    from majors_alts_monitor.config import parse_config

    raw = Config().resolved()
    for key, value in OVERRIDES.items():
        node = raw
        *head, last = key.split(".")
        for k in head:
            node = node[k]
        node[last] = yaml.safe_load(str(value))
    return parse_config(raw, "--set")


def _config(lake: Path, out: Path, null: bool) -> Config:
    cfg = _overridden().with_overrides(lake=lake, output_root=out)
    rep = cfg.report.model_copy(update={"robustness": False, "league": False})
    cfg = cfg.model_copy(update={"report": rep})
    if null:  # costs off, so an out-of-sample Sharpe centres on 0
        costs = cfg.costs.model_copy(
            update={
                "taker_fee_bps": 0.0,
                "maker_fee_bps": 0.0,
                "slippage_floor_bps": 0.0,
                "slippage_impact_bps": 0.0,
                "funding": False,
            }
        )
        cfg = cfg.model_copy(update={"costs": costs})
    return cfg


def _with_mode(cfg: Config, mode: str) -> Config:
    return cfg.model_copy(update={"regime": cfg.regime.model_copy(update={"mode": mode})})


def _truth_codes(truth_regimes, dates: np.ndarray) -> np.ndarray:
    td = truth_regimes["date"].to_numpy().astype("datetime64[D]")
    codes = np.array([REGIMES.index(r) for r in truth_regimes["regime"].to_list()], dtype=np.int8)
    i0 = int((dates[0] - td[0]).astype(np.int64))
    return codes[i0 : i0 + len(dates)]


def _strength(p, truth: np.ndarray, days: np.ndarray) -> dict:
    ordinal = 1.0 - truth[days].astype(np.float64)  # +1 majors, 0 balanced, -1 alts
    best, where = 0.0, ""
    per = {}
    for j, name in enumerate(p.features.names):
        for kind, arr in (("raw", p.features.raw), ("z", p.features.z)):
            x = arr[days, j]
            ok = np.isfinite(x)
            if ok.sum() < 100 or np.std(x[ok]) == 0:
                continue
            c = abs(float(np.corrcoef(x[ok], ordinal[ok])[0, 1]))
            per[f"{kind}:{name}"] = round(c, 4)
            if c > best:
                best, where = c, f"{name} ({kind})"
    return {"strength": best, "best_feature": where, "per_feature": per}


def _acc(exposure: np.ndarray, codes: np.ndarray | None, truth: np.ndarray, idx: np.ndarray):
    held = truth[idx]  # the true regime of the held day
    invest = (exposure[idx - 1] > 0) == (held == MAJORS)
    out = {"invest_acc": float(np.mean(invest))}
    if codes is not None:
        out["label_acc"] = float(np.mean(codes[idx - 1] == held))
    return out


def run_world(design: str, seed: int, null: bool, modes: tuple[str, ...], n_boot: int) -> dict:
    t0 = time.time()
    spec = SyntheticSpec(
        n_assets=N_ASSETS,
        seed=seed,
        world="null" if null else "planted",
        design=DESIGNS[design],
    )
    synth = generate(spec)
    tmp = Path(tempfile.mkdtemp(prefix="power-"))
    try:
        lake_dir, _ = write_lake(synth, tmp / "w")
        cfg = _config(lake_dir, tmp / "out", null)
        lake = pipeline.make_reader(cfg).read(spec.start, spec.end)
        p = pipeline.prepare(cfg, lake, spec.start, spec.end)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    truth = _truth_codes(synth.truth.regimes, p.panel.dates)
    st = cfg.stats
    out: dict = {
        "design": design,
        "seed": seed,
        "null": null,
        "modes": {},
        "failed": {},
        "baselines": {},
    }
    first = None
    for mode in modes:
        tm = time.time()
        cm = _with_mode(cfg, mode)
        try:
            wf = walk_forward(cm, p, spec.start, spec.end)
        except MonitorError as err:  # a mode that cannot fit a fold here: counted, not hidden
            out["failed"][mode] = str(err)
            continue
        s, idx = wf.stitched, wf.stitched.pnl_idx
        r = s.strat.net[idx]
        row = {"sharpe": stats.sharpe(r), "seconds": round(time.time() - tm, 2)}
        row |= _acc(s.exposure, s.codes, truth, idx)
        lt = backtest_exposure(cm, p, league.late(s.exposure, s.fold_of >= 0)).net[idx]
        row["late_sharpe"] = stats.sharpe(lt)
        if null:
            d0, d1 = wf.folds[0].test_start, int(idx[-1] - 1)
            fam = trial_daily_returns(cm, p, wf.grid, wf.fits, d0, d1)
            x = fam[0] if fam is not None else r[:, None]
            row["family"] = int(x.shape[1])
            row["p_value"] = league.spa_pvalue(x, np.zeros(len(idx)), n_boot, st.mean_block, seed)
        out["modes"][mode] = row
        if first is None:
            first = (cm, wf)
    assert first is not None
    cm, wf = first
    s, idx = wf.stitched, wf.stitched.pnl_idx
    for e in league.entries(cm, p, s, wf.folds)[1:]:
        if e.rule == "always_flat":
            continue
        r = e.result.net[idx]
        row = {"sharpe": stats.sharpe(r), "late_sharpe": stats.sharpe(e.late.net[idx])}
        row |= _acc(e.exposure, None, truth, idx)
        if null:
            row["p_value"] = league.spa_pvalue(r, np.zeros(len(idx)), n_boot, st.mean_block, seed)
        if "chosen_per_fold" in e.detail:
            row["chosen_per_fold"] = e.detail["chosen_per_fold"]
        out["baselines"][e.rule] = row
    oos = s.fold_of >= 0
    on = p.inputs.levels[MAJORS] * p.inputs.vscale
    gate = np.zeros(p.panel.n_days, dtype=bool)
    gate[:-1] = truth[1:] == MAJORS
    out["oracle_sharpe"] = stats.sharpe(
        backtest_exposure(cfg, p, np.where(oos & gate, on, 0.0)).net[idx]
    )
    out["oracle_nowcast_sharpe"] = stats.sharpe(
        backtest_exposure(cfg, p, np.where(oos & (truth == MAJORS), on, 0.0)).net[idx]
    )
    out |= _strength(p, truth, idx - 1)
    out["oos_days"] = int(idx.size)
    out["seconds"] = round(time.time() - t0, 1)
    return out


def _path(out_dir: Path, tag: str, design: str, seed: int, null: bool) -> Path:
    kind = "null" if null else "planted"
    return out_dir / tag / kind / f"{design}_{seed}.json"


def world(out_dir: Path, tag: str, design: str, seed: int, null: bool, modes, n_boot) -> dict:
    """One world's results, from its checkpoint when every asked mode is there."""
    f = _path(out_dir, tag, design, seed, null)
    if f.is_file():
        got = json.loads(f.read_text())
        got.setdefault("failed", {})
        done = set(got["modes"]) | set(got["failed"])
        if all(m in done for m in modes):
            return got
        modes = tuple(m for m in modes if m not in done)
        new = run_world(design, seed, null, modes, n_boot)
        got["modes"] |= new["modes"]
        got["failed"] |= new["failed"]
    else:
        got = run_world(design, seed, null, modes, n_boot)
    f.parent.mkdir(parents=True, exist_ok=True)
    tmp = f.with_suffix(".tmp")
    tmp.write_text(json.dumps(got, indent=1, default=float))
    tmp.replace(f)
    return got


def _mean(xs) -> float:
    a = np.array([x for x in xs if x is not None and math.isfinite(x)], dtype=np.float64)
    return float(a.mean()) if a.size else math.nan


def _entry(rows: list[dict], key: str, name: str) -> dict | None:
    """A mode's or baseline's figures over the worlds that ran it (the oracle and the
    always-on book over the same worlds)."""
    rs = [r for r in rows if name in r[key]]
    if not rs:
        return None
    sr = [r[key][name]["sharpe"] for r in rs]
    on = [r["baselines"]["always_on"]["sharpe"] for r in rs]
    oracle = _mean(r["oracle_sharpe"] for r in rs)
    return {
        "kind": key[:-1],
        "worlds": len(rs),
        "sharpe": _mean(sr),
        "captured": _mean(sr) / oracle if oracle else math.nan,
        "late_sharpe": _mean(r[key][name]["late_sharpe"] for r in rs),
        "label_acc": _mean(r[key][name].get("label_acc") for r in rs),
        "invest_acc": _mean(r[key][name]["invest_acc"] for r in rs),
        "beats_on": float(np.mean([a > b for a, b in zip(sr, on, strict=True)])),
        "failed": sum(name in r.get("failed", {}) for r in rows),
    }


def summarise_planted(rows: list[dict], modes: tuple[str, ...]) -> dict:
    designs = list(dict.fromkeys(r["design"] for r in rows))
    entries = [("modes", m) for m in modes] + [("baselines", b) for b in BASELINES]
    out: dict = {"designs": {}, "pooled": {}}
    pooled_rows = []
    for d in designs:
        rs = [r for r in rows if r["design"] == d]
        strength = [r["strength"] for r in rs]
        mean_s = _mean(strength)
        in_band = BAND[0] <= mean_s <= BAND[1]
        dd = DESIGNS[d]
        info = {
            "worlds": len(rs),
            "seeds": [r["seed"] for r in rs],
            "strength_mean": mean_s,
            "strength_min": min(strength),
            "strength_max": max(strength),
            "best_features": sorted({r["best_feature"] for r in rs}),
            "in_band": in_band,
            "mean_spell_days": dd.mean_spell_days,
            "drift": dd.drift,
            "oracle_sharpe": _mean(r["oracle_sharpe"] for r in rs),
            "oracle_nowcast_sharpe": _mean(r["oracle_nowcast_sharpe"] for r in rs),
            "always_on_sharpe": _mean(r["baselines"]["always_on"]["sharpe"] for r in rs),
            "entries": {},
        }
        for key, name in entries:
            e = _entry(rs, key, name)
            if e is not None:
                info["entries"][name] = e
        out["designs"][d] = info
        if in_band:
            pooled_rows += rs
    if pooled_rows:
        for key, name in entries:
            e = _entry(pooled_rows, key, name)
            if e is None:
                continue
            e["captured_design_mean"] = _mean(
                out["designs"][d]["entries"].get(name, {}).get("captured", math.nan)
                for d in designs
                if out["designs"][d]["in_band"]
            )
            e["designs"] = len({r["design"] for r in pooled_rows if name in r[key]})
            out["pooled"][name] = e
        out["pooled_oracle_sharpe"] = _mean(r["oracle_sharpe"] for r in pooled_rows)
        out["pooled_worlds"] = len(pooled_rows)
        out["pooled_designs"] = [d for d in designs if out["designs"][d]["in_band"]]
    return out


def summarise_null(rows: list[dict], modes: tuple[str, ...]) -> dict:
    out: dict = {}
    for kind, names in (("modes", modes), ("baselines", BASELINES)):
        for name in names:
            ps = [r[kind][name]["p_value"] for r in rows if name in r[kind]]
            ps = [x for x in ps if x is not None and math.isfinite(x)]
            if not ps:
                continue
            n = len(ps)
            rate = float(np.mean(np.array(ps) < 0.05))
            se = math.sqrt(0.05 * 0.95 / n)
            sr = [r[kind][name]["sharpe"] for r in rows if name in r[kind]]
            out[name] = {
                "kind": kind[:-1],
                "worlds": n,
                "claims": int(round(rate * n)),
                "rate": rate,
                "bound": 0.05 + 2 * se,
                "within": rate <= 0.05 + 2 * se,
                "mean_sharpe": _mean(sr),
                "family": max(r[kind][name].get("family", 1) for r in rows if name in r[kind]),
                "failed": sum(name in r.get("failed", {}) for r in rows),
            }
    return out


def _f(x: float, pct: bool = False) -> str:
    if x is None or not math.isfinite(x):
        return "—"
    return f"{100 * x:.0f}%" if pct else f"{x:.2f}"


def print_tables(summary: dict, null: dict, modes: tuple[str, ...]) -> None:
    print("\n### Designs (signal strength: best single feature's |corr| with the true regime)\n")
    print(
        "| design | worlds | mean spell (days) | drift/day | strength mean [min, max] | best "
        "feature | in band | oracle Sharpe | always-on Sharpe |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for d, i in summary["designs"].items():
        print(
            f"| {d} | {i['worlds']} | {i['mean_spell_days']:.0f} | {i['drift']:.3f} | "
            f"{i['strength_mean']:.2f} [{i['strength_min']:.2f}, {i['strength_max']:.2f}] | "
            f"{', '.join(i['best_features'])} | {'yes' if i['in_band'] else 'OUT OF BAND'} | "
            f"{_f(i['oracle_sharpe'])} | {_f(i['always_on_sharpe'])} |"
        )
    names = [m for m in modes] + list(BASELINES)
    designs = list(summary["designs"])
    print(
        "\n### Captured share of the oracle's net Sharpe (mean Sharpe / mean oracle Sharpe over "
        "the same worlds)\n"
    )
    print(
        "| mode or baseline | "
        + " | ".join(designs)
        + " | pooled (in band) | worlds | beats always-on |"
    )
    print("|---|" + "---|" * (len(designs) + 3))
    for n in names:
        cells = [
            _f(summary["designs"][d]["entries"].get(n, {}).get("captured", math.nan), pct=True)
            for d in designs
        ]
        pl = summary["pooled"].get(n, {})
        print(
            f"| {n} | " + " | ".join(cells) + f" | {_f(pl.get('captured', math.nan), pct=True)}"
            f" | {pl.get('worlds', 0)} | {_f(pl.get('beats_on', math.nan), pct=True)} |"
        )
    print("\n### Mean out-of-sample Sharpe, net (one day late in brackets)\n")
    print("| mode or baseline | " + " | ".join(designs) + " |")
    print("|---|" + "---|" * len(designs))
    print(
        "| oracle | "
        + " | ".join(_f(summary["designs"][d]["oracle_sharpe"]) for d in designs)
        + " |"
    )
    for n in names:
        cells = []
        for d in designs:
            e = summary["designs"][d]["entries"].get(n)
            cells.append(f"{_f(e['sharpe'])} ({_f(e['late_sharpe'])})" if e else "—")
        print(f"| {n} | " + " | ".join(cells) + " |")
    print("\n### Label accuracy (3 regimes, modes) and invested-call accuracy, per design\n")
    print("| mode or baseline | " + " | ".join(designs) + " |")
    print("|---|" + "---|" * len(designs))
    for n in names:
        cells = []
        for d in designs:
            e = summary["designs"][d]["entries"].get(n)
            if not e:
                cells.append("—")
            elif math.isfinite(e["label_acc"]):
                cells.append(f"{_f(e['label_acc'], True)} / {_f(e['invest_acc'], True)}")
            else:
                cells.append(f"— / {_f(e['invest_acc'], True)}")
        print(f"| {n} | " + " | ".join(cells) + " |")
    if null:
        print(
            "\n### Null worlds (costs off): how often the headline test claims an edge (p < 0.05)\n"
        )
        print(
            "| mode or baseline | worlds | family | claims | rate | bound 5% + 2 SE | within | "
            "mean Sharpe | failed to fit |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for n, v in null.items():
            print(
                f"| {n} | {v['worlds']} | {v['family']} | {v['claims']} | {_f(v['rate'], True)} | "
                f"{100 * v['bound']:.1f}% | {'yes' if v['within'] else 'NO'} | "
                f"{_f(v['mean_sharpe'])} | {v['failed']} |"
            )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="dev seeds: 1 per design, 10 nulls")
    ap.add_argument("--seeds", choices=list(SEEDS), default="dev")
    ap.add_argument("--designs", default=",".join(DESIGNS))
    ap.add_argument("--modes", default=None, help=f"comma list of {MODES}")
    ap.add_argument("--planted", type=int, default=None, help="seeds per design (first N)")
    ap.add_argument("--null", type=int, default=None, help="null worlds (first N seeds)")
    ap.add_argument(
        "--few",
        action="append",
        default=[],
        metavar="MODES:PLANTED:NULL",
        help="run these slow modes on the first seeds only, e.g. hmm:1:10 (HMM on 1 seed per "
        "design and 10 null worlds); repeatable",
    )
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--tag", default=None, help="checkpoint tag (default: hash of the source)")
    ap.add_argument("--json", type=Path, default=None, help="write the summary here")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override for every world, e.g. regime.forecast.horizon_days=10",
    )
    ap.add_argument("--markdown", action="store_true", help="print the docs tables")
    a = ap.parse_args(argv)
    modes = (
        tuple(a.modes.split(",")) if a.modes else (("forecast", "composite") if a.quick else MODES)
    )
    designs = a.designs.split(",")
    seeds = SEEDS[a.seeds]
    n_planted = a.planted if a.planted is not None else (1 if a.quick else len(seeds["planted"]))
    n_null = a.null if a.null is not None else (10 if a.quick else len(seeds["null"]))
    OVERRIDES.update(dict(kv.split("=", 1) for kv in a.set))
    tag = a.tag or source_tag()
    if OVERRIDES and not a.tag:
        blob = json.dumps(OVERRIDES, sort_keys=True).encode()
        tag += "-" + hashlib.sha256(blob).hexdigest()[:6]
    print(
        f"power benchmark: tag {tag}, seeds '{a.seeds}' (planted {seeds['planted'][:n_planted]}, "
        f"null {seeds['null'][:n_null][:3]}..{len(seeds['null'][:n_null])} worlds), modes "
        f"{modes}, out {a.out / tag}",
        file=sys.stderr,
    )
    few: dict[str, tuple[int, int]] = {}
    for spec in a.few:
        names, k_planted, k_null = spec.split(":")
        few |= {m: (int(k_planted), int(k_null)) for m in names.split(",")}

    def modes_for(i: int, null: bool) -> tuple[str, ...]:
        return tuple(m for m in modes if m not in few or i < few[m][1 if null else 0])

    rows = []
    for d in designs:
        for i, seed in enumerate(seeds["planted"][:n_planted]):
            r = world(a.out, tag, d, seed, False, modes_for(i, False), NULL_N_BOOT)
            m = r["modes"]
            print(
                f"  {d:18s} {seed}: strength {r['strength']:.2f} ({r['best_feature']}), oracle "
                f"{r['oracle_sharpe']:.2f}, "
                + ", ".join(f"{k} {v['sharpe']:.2f}" for k, v in m.items() if k in modes)
                + f"; {r['seconds']} s",
                file=sys.stderr,
                flush=True,
            )
            rows.append(r)
    nulls = []
    for i, seed in enumerate(seeds["null"][:n_null]):
        r = world(a.out, tag, "baseline", seed, True, modes_for(i, True), NULL_N_BOOT)
        nulls.append(r)
        print(
            f"  null {seed}: "
            + ", ".join(f"{k} p {v['p_value']:.3f}" for k, v in r["modes"].items() if k in modes),
            file=sys.stderr,
            flush=True,
        )
    summary = summarise_planted(rows, modes) if rows else {"designs": {}, "pooled": {}}
    null = summarise_null(nulls, modes) if nulls else {}
    print_tables(summary, null, modes)
    if a.json:
        a.json.write_text(
            json.dumps({"tag": tag, "seeds": a.seeds, "planted": summary, "null": null}, indent=1)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
