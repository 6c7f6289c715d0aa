"""End-to-end nulls: the whole ``run`` on synthetic worlds without an edge, and how often the
run's statistics claim one.

A null world (``majors-alts synth --world null``, ``lake.synthetic``) uses the planted world's
random draws with the alt-vs-majors spread's drift at 0 in every hidden regime and nothing
(funding, volume, open interest) leaning with it: no regime rule has an edge by construction.
With costs off (fees, slippage and funding at 0, the default ``NULL_OVERRIDES``) the gated
book's out-of-sample Sharpe centres on 0, so the run's headline (Hansen's SPA p-value against
the always-flat book, ``kpis.json`` ``walk_forward.spa``) should claim an edge (p < 0.05) in
at most 5% of the worlds, judged at 5% + 2 standard errors. The robustness re-runs are off
(they do not enter the headline).

``run_worlds`` is the reusable part (the power issue runs it on planted worlds and with other
overrides): it takes seeds, a world, dotted config overrides, and returns one record per world
(the kpis' selection and deflation figures), checkpointed per world as JSON under ``out`` so an
interrupted run resumes. The lakes are written to a temporary folder and removed.

    python benchmarks/null_worlds.py --out DIR [--worlds 100] [--world null|planted]
        [--set KEY=VALUE ...] [--n-assets 40] [--start 2019-01-01] [--end 2025-12-31]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from majors_alts_monitor import pipeline
from majors_alts_monitor.config import Config, parse_config
from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake
from majors_alts_monitor.sweep.spec import set_dotted

NULL_OVERRIDES: dict[str, Any] = {
    "costs.taker_fee_bps": 0.0,
    "costs.maker_fee_bps": 0.0,
    "costs.slippage_floor_bps": 0.0,
    "costs.slippage_impact_bps": 0.0,
    "costs.funding": False,
    "report.robustness": False,
}
"""Costs off (so the out-of-sample Sharpe centres on 0) and no robustness re-runs."""

START, END, N_ASSETS = date(2019, 1, 1), date(2025, 12, 31), 40
ALPHA = 0.05


def world_config(overrides: Mapping[str, Any] | None, lake: Path, out: Path) -> Config:
    """The default configuration with dotted ``overrides`` (validated), on ``lake``."""
    raw = Config().resolved()
    for key, value in (overrides or {}).items():
        set_dotted(raw, key, value, "null_worlds overrides")
    return parse_config(raw, "null_worlds overrides").with_overrides(lake=lake, output_root=out)


def world_record(seed: int, world: str, kpis: dict, seconds: float) -> dict[str, Any]:
    """What a world's run says about selection and deflation."""
    wf = kpis["walk_forward"]
    spa = wf["spa"]
    return {
        "seed": seed,
        "world": world,
        "days": kpis["period"]["days"],
        "oos_sharpe": wf["oos_sharpe"],
        "always_on_sharpe": kpis["benchmark_always_on"]["sharpe"],
        "n_trials": wf["n_trials"],
        "spa_p": spa["p_value"],
        "spa_p_lower": spa["vs_flat"]["p_value_lower"],
        "spa_p_upper": spa["vs_flat"]["p_value_upper"],
        "spa_p_always_on": spa["p_value_always_on"],
        "spa_statistic": spa["vs_flat"]["statistic"],
        "walk_forward_statistic": spa["vs_flat"]["walk_forward_statistic"],
        "stepm_superior": spa["vs_flat"]["stepm_n_superior"],
        "stepm_walk_forward": spa["vs_flat"]["stepm_walk_forward_superior"],
        "stepm_superior_always_on": spa["vs_always_on"]["stepm_n_superior"],
        "family_size": spa["family_size"],
        "family_sampling": spa["family_sampling"],
        "probabilistic_sharpe": wf["probabilistic_sharpe"],
        "deflated_sharpe": wf["deflated_sharpe"],
        "deflated_sharpe_effective": wf["deflated_sharpe_effective"],
        "effective_n_trials": wf["effective_n_trials"],
        "pbo": wf["pbo"],
        "seconds": round(seconds, 1),
    }


def run_worlds(
    seeds: Iterable[int],
    *,
    out: Path,
    world: str = "null",
    overrides: Mapping[str, Any] | None = None,
    n_assets: int = N_ASSETS,
    start: date = START,
    end: date = END,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """One record per seed (``world_record``): the synthetic ``world`` of that seed through
    ``pipeline.run`` with ``overrides`` (default ``NULL_OVERRIDES``). A world already recorded
    under ``out`` with the same settings is read back, not run again."""
    ov = dict(NULL_OVERRIDES if overrides is None else overrides)
    settings = {"world": world, "overrides": ov, "n_assets": n_assets}
    settings |= {"start": start.isoformat(), "end": end.isoformat()}
    tag = json.dumps(settings, sort_keys=True)
    folder = out / "worlds"
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for seed in seeds:
        path = folder / f"{world}_{seed}.json"
        if path.is_file():
            done = json.loads(path.read_text())
            if done.get("settings") == tag:
                records.append(done["record"])
                continue
        t0 = time.time()
        tmp = Path(tempfile.mkdtemp(prefix=f"i18_{world}{seed}_"))
        try:
            spec = SyntheticSpec(n_assets=n_assets, start=start, end=end, world=world, seed=seed)
            lake, _ = write_lake(generate(spec), tmp / "synth")
            cfg = world_config(ov, lake, tmp / "out")
            kpis = pipeline.run(cfg, start, end).kpis
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        rec = world_record(seed, world, kpis, time.time() - t0)
        part = path.with_suffix(".tmp")
        part.write_text(json.dumps({"settings": tag, "record": rec}))
        part.replace(path)
        records.append(rec)
        if progress:
            print(
                f"{world} {seed:4d}: SPA p {rec['spa_p']:.3f} (always-on {rec['spa_p_always_on']:.3f}), "
                f"OOS Sharpe {rec['oos_sharpe']:+.2f}, always-on {rec['always_on_sharpe']:+.2f}, "
                f"DSR {rec['deflated_sharpe']:.3f}, eff-N DSR "
                f"{rec['deflated_sharpe_effective']:.3f} ({rec['seconds']:.0f} s)",
                flush=True,
            )
    return records


def _share(values: list[float], claim: Any) -> tuple[int, float]:
    k = sum(1 for v in values if v is not None and claim(v))
    return k, k / max(len(values), 1)


def report(records: list[dict[str, Any]]) -> str:
    """The share of worlds in which each statistic claims an edge, with the 5% + 2 SE bound."""
    n = len(records)
    se = math.sqrt(ALPHA * (1 - ALPHA) / max(n, 1))
    rows = [
        ("SPA p < 0.05 vs flat (headline)", [r["spa_p"] for r in records], lambda v: v < ALPHA),
        ("SPA (Reality Check) p < 0.05", [r["spa_p_upper"] for r in records], lambda v: v < ALPHA),
        (
            "SPA p < 0.05 vs always-on",
            [r["spa_p_always_on"] for r in records],
            lambda v: v < ALPHA,
        ),
        ("StepM names the walk-forward book", [r["stepm_walk_forward"] for r in records], bool),
        ("StepM names any member", [r["stepm_superior"] for r in records], lambda v: v > 0),
        ("raw-N DSR > 0.95", [r["deflated_sharpe"] for r in records], lambda v: v > 0.95),
        (
            "effective-N DSR > 0.95 (diagnostic)",
            [r["deflated_sharpe_effective"] for r in records],
            lambda v: v > 0.95,
        ),
        (
            "PSR > 0.95 (no selection)",
            [r["probabilistic_sharpe"] for r in records],
            lambda v: v > 0.95,
        ),
    ]
    lines = [
        f"{n} worlds; a statistic at 5% stays below {100 * (ALPHA + 2 * se):.1f}% "
        f"(5% + 2 SE, SE {100 * se:.1f} points)",
        "",
        "| claims an edge | worlds | share |",
        "|---|---:|---:|",
    ]
    for name, vals, claim in rows:
        k, share = _share(vals, claim)
        lines.append(f"| {name} | {k} | {100 * share:.1f}% |")
    srs = sorted(r["oos_sharpe"] for r in records)
    ons = sorted(r["always_on_sharpe"] for r in records)
    if srs:
        lines += [
            "",
            f"median out-of-sample Sharpe of the gated book {srs[len(srs) // 2]:+.3f}, of the "
            f"always-on book {ons[len(ons) // 2]:+.3f}; mean {sum(srs) / n:+.3f} and "
            f"{sum(ons) / n:+.3f}",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--worlds", type=int, default=100)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--world", choices=["null", "planted"], default="null")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--n-assets", type=int, default=N_ASSETS)
    ap.add_argument("--start", type=date.fromisoformat, default=START)
    ap.add_argument("--end", type=date.fromisoformat, default=END)
    args = ap.parse_args(argv)
    ov = dict(NULL_OVERRIDES)
    for item in args.set:
        key, _, value = item.partition("=")
        ov[key] = yaml.safe_load(value)
    recs = run_worlds(
        range(args.first_seed, args.first_seed + args.worlds),
        out=args.out,
        world=args.world,
        overrides=ov,
        n_assets=args.n_assets,
        start=args.start,
        end=args.end,
    )
    print()
    print(report(recs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
