"""What sampling the family does to the run's SPA p-value.

The run's headline tests the walk-forward book and every parameter set the search chose among
(``stats.spa_max_trials`` = 5,000 by default, so the default grid of 2,000 sets is complete).
A grid larger than that is tested on a seeded sample. This script measures, on a lake, the
SPA p-value (against the flat and the always-on book) of the complete family and of random
samples of it at several sizes, on the same resamples (so the spread is the sampling's alone,
not the bootstrap's): the median, the 5-95% range, and how often a sample's p-value falls on
the other side of 0.05 from the complete family's.

    python benchmarks/spa_family_sampling.py [--lake DIR | --demo] [--samples 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from majors_alts_monitor import pipeline
from majors_alts_monitor.backtest.trials import trial_family
from majors_alts_monitor.backtest.walk import walk_forward
from majors_alts_monitor.config import Config
from majors_alts_monitor.lake.data_io import LakeReader, lake_span
from majors_alts_monitor.stats.selection import selection_bootstraps

SIZES = (250, 500, 1000)


def measure(cfg: Config, samples: int) -> None:
    reader = pipeline.make_reader(cfg)
    lake = reader.read(*_span(reader))
    start, end, _ = pipeline.effective_window(lake, *_span(reader))
    p = pipeline.prepare(cfg, lake, start, end)
    wf = walk_forward(cfg, p, start, end)
    d0, d1 = wf.folds[0].test_start, int(wf.stitched.pnl_idx[-1] - 1)
    fam = trial_family(cfg, p, wf.grid, wf.fits, d0, d1)
    assert fam is not None and not fam.sampled
    idx = wf.stitched.pnl_idx
    x = np.column_stack([wf.stitched.strat.net[idx], fam.returns])
    flat, on = selection_bootstraps(
        x,
        (None, wf.stitched.bench.net[idx]),
        n_boot=cfg.stats.n_boot,
        mean_block=cfg.stats.mean_block,
        seed=cfg.stats.seed,
    )
    full = {"flat": flat.spa().p_value, "always-on": on.spa().p_value}
    print(
        f"{cfg.paths.data_lake}: {x.shape[0]} days, family {x.shape[1]} "
        f"(walk-forward book + {fam.n_trials} sets), {cfg.stats.n_boot} resamples; "
        f"complete family p = {full['flat']:.4f} (flat), {full['always-on']:.4f} (always-on)"
    )
    print("| benchmark | sample of sets | median p | 5%..95% | samples on the other side of 0.05 |")
    print("|---|---:|---:|---:|---:|")
    rng = np.random.default_rng(2024)
    for name, boot in (("flat", flat), ("always-on", on)):
        for size in SIZES:
            ps = []
            for _ in range(samples):
                cols = np.concatenate([[0], 1 + np.sort(rng.choice(fam.n_trials, size, False))])
                ps.append(boot.spa(cols).p_value)
            a = np.asarray(ps)
            flip = np.mean((a < 0.05) != (full[name] < 0.05))
            lo, med, hi = np.quantile(a, [0.05, 0.5, 0.95])
            print(
                f"| {name} | {size} | {med:.3f} | {lo:.3f}..{hi:.3f} | {100 * flip:.0f}% |",
                flush=True,
            )


def _span(reader: LakeReader) -> tuple:
    return lake_span(reader)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lake", type=Path)
    ap.add_argument("--demo", action="store_true")
    ap.add_argument("--samples", type=int, default=200)
    args = ap.parse_args(argv)
    out = Path(tempfile.mkdtemp(prefix="spa_sampling_"))
    if args.demo:
        from majors_alts_monitor.lake.demo import ensure_demo_lake

        lake = ensure_demo_lake(out)
    elif args.lake is not None:
        lake = args.lake
    else:
        ap.error("give --lake DIR or --demo")
    cfg = Config().with_overrides(lake=lake, output_root=out)
    measure(cfg, args.samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
