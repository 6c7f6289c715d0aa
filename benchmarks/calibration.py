"""Calibration and power of the run's selection statistics on factor-model nulls.

Each replication draws N trials of T = 2,000 daily returns sharing one factor::

    x[t, k] = sqrt(rho) f[t] + sqrt(1 - rho) e[t, k],   f, e iid N(0, 1%)

so every pair of trials has correlation rho and no trial has an edge (the null cells), or
trial 0 gets a mean of ``S / sqrt(365)`` daily standard deviations: annualised Sharpe S (the
power cells). The search is the selection the statistics guard against: the in-sample best
trial is picked. "Claims an edge" means:

- ``spa``: Hansen's SPA p-value (``stats.selection``, the run's headline: each mean excess
  divided by its daily standard deviation, consistent recentring, stationary bootstrap with
  mean block 10, 500 resamples) < 0.05;
  ``spa_upper`` the same with White's Reality Check recentring;
- ``oracle``: the exact p-value of the same studentised maximum under the true null (the
  t statistics of equicorrelated normal trials are equicorrelated normals:
  ``1 - E_z[Phi((c - sqrt(rho) z) / sqrt(1 - rho))^N]`` by Gauss-Hermite quadrature) < 0.05:
  what a perfect test rejects on the *same draws*, so the luck of the draws is visible;
- ``dsr_raw``: the deflated Sharpe ratio of the best trial at the raw N > 0.95;
- ``dsr_eff``: the same at the participation-ratio effective N (``deflated_sharpe_effective``,
  the run's diagnostic) > 0.95;
- ``dsr_eig95``: the DSR at the number of eigenvalues of the trials' correlation matrix that
  explain 95% of its trace > 0.95 (an alternative effective N, measured here only).

StepM (FWER 5%) is scored too: in the power cells, ``stepm_hit`` = the planted trial is among
the trials it names; ``stepm_false`` = it names a null trial (null cells: any trial).

A cell passes when its SPA rate is at most 5% + 2 standard errors of a 5% rate over its
replications (``sqrt(0.05 * 0.95 / R)``). With 1,000 replications a cell of a test exactly at
5% passes with probability 97.7%, so 12 independent cells all pass with probability about
76%: the ``oracle`` column shows how far each cell's draws alone push an exact test.

``stress`` cells: Student-t (4 d.o.f.) innovations scaled by a common log-AR(1) volatility
(phi 0.98, sd 0.2; the synthetic lake's clustering), no oracle.

Checkpoints: one JSON file per cell under ``--out`` (per-replication values), written when the
cell finishes; a re-run skips finished cells, so an interrupted run resumes, and a re-run with
more ``--reps`` extends a finished cell by the missing replications.

    python benchmarks/calibration.py --out DIR [--estimate] [--only null|power|stress]
        [--cell NAME] [--reps 1000] [--power-reps 1000]
    python benchmarks/calibration.py --timing
    python benchmarks/calibration.py --compare-scales

``--estimate``: time 3 replications of every cell and print the projected total; ``--timing``:
the SPA's cost at 1,000 trials x 2,000 days x 500 resamples (median of 5, with a same-process
baseline ratio: a 2,000 x 2,000 @ 2,000 x 1,000 matrix product); ``--compare-scales``: the
SPA's false-claim rate with each scale of ``stats.selection`` (the daily standard deviation,
Hansen's long-run deviation, none) beside the exact test's on the same null draws.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from majors_alts_monitor import stats as st
from majors_alts_monitor.stats import multiple_testing as mt
from majors_alts_monitor.stats import selection as sel

T_DAYS = 2000
SIGMA = 0.01
N_BOOT = 500
MEAN_BLOCK = 10.0
NS = (50, 100, 200, 500)
RHOS = (0.0, 0.3, 0.7)
SHARPES = (1.0, 2.0)
ALPHA = 0.05
_GH_Z, _GH_W = np.polynomial.hermite_e.hermegauss(80)
_GH_W = _GH_W / _GH_W.sum()


@dataclass(frozen=True)
class Cell:
    kind: str  # null | power | stress
    n: int
    rho: float
    sharpe: float = 0.0

    @property
    def name(self) -> str:
        s = f"_S{self.sharpe:g}" if self.kind == "power" else ""
        return f"{self.kind}{s}_N{self.n}_rho{self.rho:g}"

    @property
    def key(self) -> int:
        kinds = {"null": 1, "power": 2, "stress": 3}
        return (
            kinds[self.kind] * 10**7
            + self.n * 10**4
            + round(self.rho * 100) * 10
            + int(self.sharpe)
        )


def cells(only: str | None = None) -> list[Cell]:
    out = [Cell("null", n, r) for n in NS for r in RHOS]
    out += [Cell("power", n, r, s) for s in SHARPES for n in NS for r in RHOS]
    out += [Cell("stress", 200, r) for r in (0.3, 0.7)]
    return [c for c in out if only is None or c.kind == only]


def _norm_cdf(z: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr

    return ndtr(z)


def oracle_p(c: float, n: int, rho: float) -> float:
    """``P(max_k Z_k >= c)`` for ``n`` standard normals with pairwise correlation ``rho``."""
    if rho <= 0.0:
        return float(1.0 - _norm_cdf(np.array([c]))[0] ** n)
    inner = _norm_cdf((c - math.sqrt(rho) * _GH_Z) / math.sqrt(1.0 - rho)) ** n
    return float(1.0 - _GH_W @ inner)


def draw(cell: Cell, rng: np.random.Generator) -> np.ndarray:
    """One replication's (T, N) returns."""
    t, n, rho = T_DAYS, cell.n, cell.rho
    if cell.kind == "stress":
        shocks = rng.standard_t(4.0, size=(t, n + 1)) / math.sqrt(2.0)  # unit variance
        h = np.empty(t)
        h[0] = rng.normal(0.0, 0.2 / math.sqrt(1 - 0.98**2))
        eta = rng.normal(0.0, 0.2, t)
        for i in range(1, t):
            h[i] = 0.98 * h[i - 1] + eta[i]
        v = np.exp(h)
        v /= math.sqrt(np.mean(v * v))
        f, e = shocks[:, :1], shocks[:, 1:]
        return SIGMA * v[:, None] * (math.sqrt(rho) * f + math.sqrt(1.0 - rho) * e)
    f = rng.normal(0.0, SIGMA, (t, 1))
    e = rng.normal(0.0, SIGMA, (t, n))
    x = math.sqrt(rho) * f + math.sqrt(1.0 - rho) * e
    if cell.kind == "power":
        x[:, 0] += cell.sharpe / math.sqrt(365.0) * SIGMA
    return x


def n_eig95(x: np.ndarray) -> int:
    ev = np.sort(np.linalg.eigvalsh(np.corrcoef(x, rowvar=False)))[::-1]
    return int(np.searchsorted(np.cumsum(ev), 0.95 * ev.sum()) + 1)


def replicate(cell: Cell, rep: int) -> dict[str, float]:
    ss = np.random.SeedSequence([cell.key, rep])
    data_seed, boot_seed = ss.spawn(2)
    x = draw(cell, np.random.default_rng(data_seed))
    n = x.shape[1]
    boot_int = int(boot_seed.generate_state(1)[0])
    (b,) = sel.selection_bootstraps(x, (None,), n_boot=N_BOOT, mean_block=MEAN_BLOCK, seed=boot_int)
    spa = b.spa()
    sm = b.stepm(ALPHA)
    srs = x.mean(axis=0) / x.std(axis=0, ddof=1)
    var = float(np.var(srs, ddof=1))
    best = int(np.argmax(srs))
    sr, n_obs, sk, ku = st.sharpe_moments(x[:, best])
    raw = st.deflated_sharpe(sr, n_obs, sk, ku, n_trials=n, var_trials=var)
    eff = mt.effective_trials(x)
    dsr_eff, _ = mt.deflated_sharpe_effective(sr, n_obs, sk, ku, eff)
    k95 = n_eig95(x)
    dsr95 = st.deflated_sharpe(sr, n_obs, sk, ku, n_trials=k95, var_trials=var)
    tstat = math.sqrt(T_DAYS) * x.mean(axis=0) / x.std(axis=0, ddof=0)
    sup = set(int(i) for i in sm.superior)
    out = {
        "spa": spa.p_value,
        "spa_upper": spa.p_value_upper,
        "dsr_raw": raw,
        "dsr_eff": dsr_eff,
        "n_eff": eff.n_effective,
        "dsr_eig95": dsr95,
        "n_eig95": k95,
        "stepm_hit": float(0 in sup) if cell.kind == "power" else math.nan,
        "stepm_false": float(bool(sup - {0}) if cell.kind == "power" else bool(sup)),
        "best_is_planted": float(best == 0) if cell.kind == "power" else math.nan,
    }
    out["oracle"] = oracle_p(float(tstat.max()), n, cell.rho) if cell.kind == "null" else math.nan
    return out


def run_cell(cell: Cell, reps: int, out_dir: Path) -> dict:
    """The cell's first ``reps`` replications (replication ``r`` is seeded by the cell and
    ``r`` alone). A checkpoint with at least ``reps`` is read back (its first ``reps`` kept);
    one with fewer is extended by the missing replications, so a cell's 3,000 replications
    start with its 1,000."""
    path = out_dir / f"{cell.name}.json"
    done_rows: list[dict[str, float]] = []
    seconds = 0.0
    if path.is_file():
        done = json.loads(path.read_text())
        if done.get("reps") == reps:
            return done
        vals = done["values"]
        done_rows = [{k: vals[k][i] for k in vals} for i in range(done["reps"])][:reps]
        seconds = done["seconds"] if len(done_rows) < reps else 0.0
    t0 = time.time()
    rows = done_rows + [replicate(cell, r) for r in range(len(done_rows), reps)]
    res = {
        "cell": cell.name,
        "kind": cell.kind,
        "n": cell.n,
        "rho": cell.rho,
        "sharpe": cell.sharpe,
        "reps": reps,
        "t_days": T_DAYS,
        "n_boot": N_BOOT,
        "mean_block": MEAN_BLOCK,
        "seconds": round(seconds + time.time() - t0, 1),
        "values": {k: [r[k] for r in rows] for k in rows[0]},
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(res))
    tmp.replace(path)
    return res


def rates(res: dict) -> dict[str, float]:
    v = {k: np.asarray(a, dtype=np.float64) for k, a in res["values"].items()}
    r = {
        "spa": float(np.mean(v["spa"] < ALPHA)),
        "spa_upper": float(np.mean(v["spa_upper"] < ALPHA)),
        "dsr_raw": float(np.mean(v["dsr_raw"] > 0.95)),
        "dsr_eff": float(np.mean(v["dsr_eff"] > 0.95)),
        "dsr_eig95": float(np.mean(v["dsr_eig95"] > 0.95)),
        "n_eff": float(np.median(v["n_eff"])),
        "n_eig95": float(np.median(v["n_eig95"])),
        "stepm_false": float(np.mean(v["stepm_false"])),
    }
    if res["kind"] == "null":
        r["oracle"] = float(np.mean(v["oracle"] < ALPHA))
    if res["kind"] == "power":
        r["stepm_hit"] = float(np.mean(v["stepm_hit"]))
        r["best_is_planted"] = float(np.mean(v["best_is_planted"]))
    return r


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def null_table(results: list[dict]) -> str:
    """One row per null cell, and a pooled row over the factor-model cells: the SPA against
    the 5% + 2 SE bound, beside the exact test on the same draws (``oracle``)."""
    lines = [
        "| cell | N | rho | reps | SPA | 5% + 2 SE | pass | exact test | SPA - exact | SPA (RC) "
        "| StepM FWER | raw-N DSR | eff-N DSR | eig95 DSR | median N_eff | median N_eig95 |",
        "|---|---:|---:|---:|---:|---:|:-:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    pooled = {"spa": 0, "oracle": 0, "reps": 0}
    for res in results:
        r = rates(res)
        bound = ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / res["reps"])
        ok = "yes" if r["spa"] <= bound else "NO"
        oracle = _pct(r["oracle"]) if "oracle" in r else "n/a"
        diff = f"{100 * (r['spa'] - r['oracle']):+.1f}" if "oracle" in r else "n/a"
        if "oracle" in r:
            pooled["spa"] += round(r["spa"] * res["reps"])
            pooled["oracle"] += round(r["oracle"] * res["reps"])
            pooled["reps"] += res["reps"]
        lines.append(
            f"| {res['kind']} | {res['n']} | {res['rho']:g} | {res['reps']} | {_pct(r['spa'])} | "
            f"{100 * bound:.2f}% | {ok} | {oracle} | {diff} | {_pct(r['spa_upper'])} | "
            f"{_pct(r['stepm_false'])} | {_pct(r['dsr_raw'])} | {_pct(r['dsr_eff'])} | "
            f"{_pct(r['dsr_eig95'])} | {r['n_eff']:.1f} | {r['n_eig95']:.0f} |"
        )
    if pooled["reps"]:
        n = pooled["reps"]
        spa, ora = pooled["spa"] / n, pooled["oracle"] / n
        bound = ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / n)
        lines.append(
            f"| pooled factor-model nulls | | | {n} | {100 * spa:.2f}% | {100 * bound:.2f}% | "
            f"{'yes' if spa <= bound else 'NO'} | {100 * ora:.2f}% | {100 * (spa - ora):+.2f} | "
            "| | | | | | |"
        )
    return "\n".join(lines)


def power_table(results: list[dict]) -> str:
    lines = [
        "| Sharpe | N | rho | reps | SPA | raw-N DSR | SPA >= raw | eff-N DSR | eig95 DSR "
        "| StepM names the planted trial | StepM names a null trial | best is planted |",
        "|---:|---:|---:|---:|---:|---:|:-:|---:|---:|---:|---:|---:|",
    ]
    for res in results:
        r = rates(res)
        ok = "yes" if r["spa"] >= r["dsr_raw"] else "NO"
        lines.append(
            f"| {res['sharpe']:g} | {res['n']} | {res['rho']:g} | {res['reps']} | "
            f"{_pct(r['spa'])} | {_pct(r['dsr_raw'])} | {ok} | {_pct(r['dsr_eff'])} | "
            f"{_pct(r['dsr_eig95'])} | {_pct(r['stepm_hit'])} | {_pct(r['stepm_false'])} | "
            f"{_pct(r['best_is_planted'])} |"
        )
    return "\n".join(lines)


SCALE_CELLS = ((100, 0.0, 1500), (100, 0.3, 1500), (50, 0.7, 1500), (500, 0.7, 800))


def compare_scales() -> None:
    """Why the headline divides by the daily standard deviation: the SPA's rate of claims
    with each scale against the exact test's on the same null draws (``SCALE_CELLS``: N, rho,
    replications), consistent and upper (Reality Check) recentring."""
    from dataclasses import replace

    print("| N | rho | reps | sd (headline) | long-run (Hansen) | none (arch) | exact | SE |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, rho, reps in SCALE_CELLS:
        cell = Cell("null", n, rho)
        hits = {"sd": 0, "long_run": 0, "none": 0, "exact": 0}
        for rep in range(reps):
            ss = np.random.SeedSequence([77, cell.key, rep])
            data_seed, boot_seed = ss.spawn(2)
            x = draw(cell, np.random.default_rng(data_seed))
            (b,) = sel.selection_bootstraps(
                x,
                (None,),
                n_boot=N_BOOT,
                mean_block=MEAN_BLOCK,
                seed=int(boot_seed.generate_state(1)[0]),
            )
            for scale in ("sd", "long_run", "none"):
                hits[scale] += replace(b, scale=scale).spa().p_value < ALPHA
            tstat = math.sqrt(T_DAYS) * x.mean(axis=0) / x.std(axis=0, ddof=0)
            hits["exact"] += oracle_p(float(tstat.max()), n, rho) < ALPHA
        se = math.sqrt(ALPHA * (1 - ALPHA) / reps)
        cols = " | ".join(_pct(hits[k] / reps) for k in ("sd", "long_run", "none", "exact"))
        print(f"| {n} | {rho:g} | {reps} | {cols} | {100 * se:.2f} |", flush=True)


def timing() -> None:
    """The SPA's cost at 1,000 trials x 2,000 days x 500 resamples, with a baseline ratio."""
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, SIGMA, (T_DAYS, 1000))
    a = rng.random((T_DAYS, T_DAYS))

    def med(fn, k: int = 5) -> float:
        fn()
        ts = []
        for _ in range(k):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
        return statistics.median(ts)

    base = med(lambda: a @ x)
    spa = med(lambda: sel.spa_test(x, n_boot=N_BOOT, mean_block=MEAN_BLOCK, seed=1))
    var = med(lambda: sel.bootstrap_variance(x, MEAN_BLOCK))
    print(
        f"spa_test 1,000 trials x 2,000 days x 500 resamples: median {spa:.3f} s "
        f"(of which the long-run variances {var:.3f} s); baseline 2,000 x 2,000 @ 2,000 x "
        f"1,000 product {base:.3f} s; ratio {spa / base:.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--power-reps", type=int, default=1000)
    ap.add_argument("--only", choices=["null", "power", "stress"])
    ap.add_argument("--cell", help="one cell by name, e.g. null_N200_rho0.7")
    ap.add_argument("--estimate", action="store_true")
    ap.add_argument("--timing", action="store_true")
    ap.add_argument("--compare-scales", action="store_true")
    args = ap.parse_args(argv)
    if args.timing:
        timing()
        return 0
    if args.compare_scales:
        compare_scales()
        return 0
    if args.out is None:
        ap.error("--out is required to run the cells")
    args.out.mkdir(parents=True, exist_ok=True)
    todo = [c for c in cells(args.only) if args.cell is None or c.name == args.cell]
    if not todo:
        ap.error(f"no cell named {args.cell!r}")
    if args.estimate:
        total = 0.0
        for c in todo:
            t = time.time()
            for r in range(3):
                replicate(c, r)
            per = (time.time() - t) / 3
            reps = args.power_reps if c.kind == "power" else args.reps
            total += per * reps
            print(f"{c.name:28s} {per:6.3f} s/rep x {reps} = {per * reps / 60:6.1f} min")
        print(f"projected total {total / 3600:.2f} h")
        return 0
    results = []
    for c in todo:
        reps = args.power_reps if c.kind == "power" else args.reps
        res = run_cell(c, reps, args.out)
        results.append(res)
        r = rates(res)
        print(
            f"{c.name:28s} reps {reps} ({res['seconds']:.0f} s): SPA {_pct(r['spa'])}, "
            f"raw DSR {_pct(r['dsr_raw'])}, eff DSR {_pct(r['dsr_eff'])}",
            flush=True,
        )
    nulls = [r for r in results if r["kind"] in ("null", "stress")]
    power = [r for r in results if r["kind"] == "power"]
    if nulls:
        print("\nFalse positives (claims an edge when no trial has one)\n")
        print(null_table(nulls))
    if power:
        print("\nPower (one trial with the stated annualised Sharpe)\n")
        print(power_table(power))
    return 0


if __name__ == "__main__":
    sys.exit(main())
