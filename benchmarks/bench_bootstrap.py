"""The bootstrap statistics of a run, old (numpy: the code before ``bootstrap_kernel``, inline
below) against new (the compiled kernels), at the demo's size: n = 2069 book days, n_boot =
2000 resamples, 3 regime labels. Medians of 7 calls after a warm-up, the ratio, tracemalloc's
peak of one call, and a check that both give the same floats.

Timed twice: the whole call (drawing the indices included: the same numpy RNG and compiled
chains in both), and the statistics alone on draws already made and shared (``bootstrap_reuse``,
as a run's Sharpe interval and regime edges share them).

    python benchmarks/bench_bootstrap.py [--demo-against TREE]

``--demo-against TREE`` also runs ``python -m majors_alts_monitor.run --demo --quiet`` with
``PYTHONPATH=TREE`` (e.g. /work/main) and with this checkout, each in a new output root, and
compares the outputs: parquet tables value by value (floats bit for bit), the other files
byte for byte once the run id, the output root and ``generated_at`` are masked; the run log
and the manifest (timings) are left out.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

from majors_alts_monitor import stats as st
from majors_alts_monitor.tests.bootstrap_reference import ref_regime_edges, ref_sharpe_ci

N, N_BOOT, MEAN_BLOCK, SEED = 2069, 2000, 10.0, 0
REPO = Path(__file__).resolve().parents[1]

# old: stats' numpy code before the kernels, kept as the tests' reference
# (majors_alts_monitor/tests/bootstrap_reference.py)

# --------------------------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------------------------


def _median_ms(fn: Callable[[], object], repeats: int = 7) -> float:
    fn()  # warm-up (numba's cache load, first-touch of the draws)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def _peak_mb(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def _book() -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(SEED)
    r = rng.standard_t(4, N) * 0.015 - 0.0003
    reg = np.empty(N, dtype=np.int64)
    reg[0] = 0
    for t in range(1, N):
        reg[t] = reg[t - 1] if rng.random() < 0.97 else rng.integers(0, 3)
    return r, [reg == k for k in range(3)]


def bench() -> None:
    r, labs = _book()
    kw = {"n_boot": N_BOOT, "mean_block": MEAN_BLOCK, "seed": SEED}
    pairs = {
        "sharpe_ci": (lambda: ref_sharpe_ci(r, **kw), lambda: st.sharpe_ci(r, **kw)),
        "regime_edges (3 labels)": (
            lambda: ref_regime_edges(r, labs, **kw),
            lambda: st.regime_edges(r, labs, **kw),
        ),
    }
    same = all(old() == new() for old, new in pairs.values())
    print(f"n = {N} days, n_boot = {N_BOOT}, mean block {MEAN_BLOCK}: old == new -> {same}")
    print("                                    old ms    new ms   old/new   peak MB old / new")
    for title, shared in (("whole call", False), ("draws shared", True)):
        for name, (old, new) in pairs.items():
            if shared:
                with st.bootstrap_reuse():
                    new()  # draw once: both then read the shared draws
                    t_old, t_new = _median_ms(old), _median_ms(new)
                    m_old, m_new = _peak_mb(old), _peak_mb(new)
            else:
                t_old, t_new = _median_ms(old), _median_ms(new)
                m_old, m_new = _peak_mb(old), _peak_mb(new)
            print(
                f"  {title:12s} {name:23s} {t_old:7.1f}  {t_new:8.1f}  {t_old / t_new:7.2f}x"
                f"   {m_old:7.1f} / {m_new:5.1f}"
            )


# --------------------------------------------------------------------------------------------
# the whole demo's outputs, another tree against this one
# --------------------------------------------------------------------------------------------

_SKIP = {"run.log", "run_manifest.json"}
_STAMP = re.compile(rb'"generated_at": "[^"]*"')


def _demo(tree: Path, out: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, "-m", "majors_alts_monitor.run", "--demo", "--quiet"]
    # run from outside both trees: ``-m`` puts the working directory ahead of PYTHONPATH
    r = subprocess.run(
        [*cmd, "--output-root", str(out)], env=env, cwd=out.parent, capture_output=True
    )
    if r.returncode != 0:
        raise SystemExit(f"demo run with PYTHONPATH={tree} failed:\n{r.stderr.decode()}")


def _masked(path: Path, root: Path) -> bytes:
    data = path.read_bytes().replace(str(root).encode(), b"ROOT")
    kpis = root / "reports" / "majors_alts" / "kpis.json"
    run_id = json.loads(kpis.read_text()).get("run_id")
    if run_id:
        data = data.replace(str(run_id).encode(), b"RUN_ID")
    return _STAMP.sub(b'"generated_at": "T"', data)


def _same_table(a: Path, b: Path) -> bool:
    import pyarrow.parquet as pq

    ta, tb = pq.read_table(a), pq.read_table(b)
    if ta.schema != tb.schema or ta.num_rows != tb.num_rows:
        return False
    for name in ta.column_names:
        x = ta.column(name).to_numpy(zero_copy_only=False)
        y = tb.column(name).to_numpy(zero_copy_only=False)
        if x.dtype.kind == "f":
            if not np.array_equal(
                x.view(np.int64 if x.itemsize == 8 else np.int32),
                y.view(np.int64 if y.itemsize == 8 else np.int32),
            ):
                return False
        elif not np.array_equal(x, y):
            return False
    return True


def compare_demo(other: Path) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        roots = {"other": Path(tmp) / "other", "this": Path(tmp) / "this"}
        _demo(other, roots["other"])
        _demo(REPO, roots["this"])
        files = sorted(
            {
                p.relative_to(root)
                for root in roots.values()
                for sub in ("reports", "artifacts")
                for p in (root / sub).rglob("*")
                if p.is_file() and p.name not in _SKIP
            }
        )
        ok = True
        for rel in files:  # a file written by one tree only is a difference
            a, b = roots["other"] / rel, roots["this"] / rel
            if not (a.is_file() and b.is_file()):
                same = False
            elif rel.suffix == ".parquet":
                same = _same_table(a, b)
            else:
                same = _masked(a, roots["other"]) == _masked(b, roots["this"])
            ok &= same
            print(f"  {'same' if same else 'DIFFERENT':9s} {rel}")
    print(f"demo outputs, PYTHONPATH={other} vs this checkout: {'identical' if ok else 'DIFFER'}")
    return ok


def main() -> None:
    bench()
    if "--demo-against" in sys.argv:
        other = Path(sys.argv[sys.argv.index("--demo-against") + 1]).resolve()
        if not compare_demo(other):
            raise SystemExit(1)


if __name__ == "__main__":
    main()
