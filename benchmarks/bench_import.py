"""Importer throughput: Binance klines and CoinGecko exports of a synthetic market (200 assets x
6 years, monthly kline files in every published layout: headerless ms, headed, µs, daily-file
zips, monthly zips), imported into a fresh lake, then re-imported (nothing changes).

    python benchmarks/bench_import.py
"""

from __future__ import annotations

import contextlib
import io
import shutil
import statistics
import time
from datetime import date

from _common import CACHE

from majors_alts_monitor import cli
from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate
from majors_alts_monitor.tests.lake.test_importers import write_coingecko, write_klines


def timed(argv: list[str]) -> float:
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(argv) == 0
    return time.perf_counter() - t


def main() -> None:
    root = CACHE / "import_200x6"
    kl, cg = root / "klines", root / "coingecko"
    if not kl.is_dir():
        lake = generate(
            SyntheticSpec(n_assets=200, start=date(2019, 1, 1), end=date(2024, 12, 31), seed=1)
        )
        for d in (kl, cg):
            d.mkdir(parents=True, exist_ok=True)
        write_klines(lake, kl)
        write_coingecko(lake, cg)
    n_files = sum(1 for _ in kl.iterdir())
    cg_files = sorted(str(p) for p in cg.iterdir())
    fresh, again, caps = [], [], []
    for _ in range(3):
        out = root / "lake"
        shutil.rmtree(out, ignore_errors=True)
        fresh.append(timed(["import", "binance-klines", str(kl), "--out", str(out)]))
        again.append(timed(["import", "binance-klines", str(kl), "--out", str(out)]))
        caps.append(
            timed(
                ["import", "coingecko", *cg_files, "--out", str(out), "--tables", "fact_marketcap"]
            )
        )
    print(
        f"Binance klines: {n_files:,} files (200 assets x 72 months); CoinGecko: {len(cg_files)} files"
    )
    print(f"  klines into a new lake      median {statistics.median(fresh):6.2f} s")
    print(f"  klines re-import (no change) median {statistics.median(again):6.2f} s")
    print(f"  coingecko caps merged in     median {statistics.median(caps):6.2f} s")


if __name__ == "__main__":
    main()
