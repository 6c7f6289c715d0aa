"""Is the grid kernel vectorised? The innermost loops of its parallel body, from the assembly.

Compiles ``regime.search._kernel`` afresh (numba cannot show the assembly of a function loaded
from its cache, so a temporary cache folder is used), finds the compiled parfor body (the
function with the most ymm instructions) and prints each innermost loop (a backward jump with
no other loop inside): its instruction count and how many use 256-bit ymm registers (AVX2:
4 float64 lanes), plus the packed arithmetic, compare and blend instructions it contains.
On this machine (AVX2 + FMA, no AVX-512) the day loop's passes over a tile of sets (the score
passes, the state machine, the statistics per cost table) should be almost all ymm; a
scalar fallback shows xmm or general-purpose instructions only.

Run: ``python benchmarks/kernel_asm.py [--dump FILE]`` (``--dump`` writes the whole listing).
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
from collections import Counter


def innermost_loops(lines: list[str]) -> list[tuple[int, int]]:
    labels = {ln[:-1]: i for i, ln in enumerate(lines) if re.match(r"^\.LBB\S+:$", ln)}
    loops = []
    for i, ln in enumerate(lines):
        m = re.match(r"\s+j\w+\s+(\.LBB\S+)", ln)
        if m and m.group(1) in labels and labels[m.group(1)] < i:
            loops.append((labels[m.group(1)], i))
    return [
        (a, b) for a, b in loops if not any(a <= c < d <= b and (c, d) != (a, b) for c, d in loops)
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dump", help="write the kernel's whole assembly listing here")
    args = ap.parse_args()
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="kernel_asm_")

    import numpy as np

    from majors_alts_monitor.regime.search import ParamGrid, SearchInputs, _kernel, evaluate_grid

    rng = np.random.default_rng(0)
    n, k = 60, 5
    grid = ParamGrid(
        ("a", "b"), rng.normal(size=(k, 2)), np.full(k, -0.5), np.full(k, 0.5),
        np.zeros(k), np.ones(k, dtype=np.int64), k,
    )  # fmt: skip
    inputs = SearchInputs(np.array([1.0, 0.0, -1.0]), np.ones(n), rng.normal(0, 0.01, n),
                          np.zeros((n, 3, 3)))  # fmt: skip
    evaluate_grid(rng.normal(size=(n, 2)), grid, inputs, 2, n - 3)
    asm = "\n".join(_kernel.inspect_asm().values())
    if args.dump:
        with open(args.dump, "w") as fh:
            fh.write(asm)
    lines = asm.splitlines()
    starts = [i for i, ln in enumerate(lines) if re.match(r"^[A-Za-z_][^\s]*:$", ln)]
    spans = list(zip(starts, [*starts[1:], len(lines)], strict=True))
    a, b = max(spans, key=lambda s: sum("ymm" in x for x in lines[s[0] : s[1]]))
    body = lines[a:b]
    print(f"parfor body: {len(body)} lines, {sum('ymm' in x for x in body)} with ymm registers")
    for lo, hi in innermost_loops(body):
        ins = [
            x.split()[0]
            for x in body[lo : hi + 1]
            if x.startswith("\t") and not x.startswith("\t.")
        ]
        ymm = sum("ymm" in x for x in body[lo : hi + 1])
        ops = Counter(
            x for x in ins if re.match(r"v(mul|add|sub|div|cmp|blendv|min|max|pand|pcmp)", x)
        )
        top = ", ".join(f"{op} {c}" for op, c in ops.most_common(6))
        print(f"  loop of {len(ins):3d} instructions, {ymm:3d} on ymm  [{top}]")


if __name__ == "__main__":
    main()
