"""The real Binance lake rebuilt from its sources' formats, and the same run on both (issue 20).

    python benchmarks/roundtrip_real_binance.py [WORK_DIR]

Writes ``../shared/data/real_binance`` out with ``majors-alts mirror`` (Binance archive layout:
spot klines, USD-M funding under its real futures names, daily metrics; CoinGecko answers),
imports its history, tops it up over HTTP from a local server with ``update binance-archive``
(two mornings) and ``update coingecko``, reruns the update (no byte may change), then runs the
default configuration on the original and the rebuilt lake and prints the regime days and
kpis.json leaves that differ (both must be none), with the time of each step.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from majors_alts_monitor.tests.lake import roundtrip

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real_binance"


def main() -> None:
    work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="rt-"))
    t = time.perf_counter()
    rt = roundtrip.build(REAL, work)
    build_s = time.perf_counter() - t
    res = roundtrip.compare(REAL, rt.lake, work)
    print(f"real_binance round trip under {work}")
    for k, v in rt.timings.items():
        print(f"  {k:<40} {v:7.1f} s")
    print(f"  {'build in total':<40} {build_s:7.1f} s ({rt.outputs['requests']} HTTP requests)")
    print(f"  update rerun changed: {json.loads(rt.outputs['rerun changed']) or 'nothing'}")
    print(f"  regime days different: {res['regime_days_different']} of {res['timeline_days']}")
    print(f"  kpis.json leaves different (1e-9): {len(res['kpi_differences'])}")
    for d in res["kpi_differences"][:20]:
        print(f"    {d}")
    print(
        f"  OOS Sharpe original / rebuilt: {res['oos_sharpe'][0]:.6f} / {res['oos_sharpe'][1]:.6f}"
    )


if __name__ == "__main__":
    main()
