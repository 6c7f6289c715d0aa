"""Issue 2 target: read a partitioned synthetic lake of 1,000 assets x 8 years and build the
panel and universe for a 3-year window in under 5 s and under 2 GB peak memory.

    python benchmarks/bench_lake_panel.py
"""

from __future__ import annotations

from datetime import date

from _common import measure, synthetic_lake

from majors_alts_monitor.config import Config
from majors_alts_monitor.lake.data_io import LakeReader
from majors_alts_monitor.market.panel import build_panel
from majors_alts_monitor.market.universe import build_universe


def main() -> None:
    lake = synthetic_lake(1000, date(2018, 1, 1), date(2025, 12, 31), partitioned=True)
    cfg = Config()
    s, e = date(2022, 1, 1), date(2024, 12, 31)

    def read_only() -> object:
        return LakeReader(lake, aliases=cfg.universe.aliases, exclude=cfg.universe.exclude).read(
            s, e
        )

    def full() -> object:
        d = read_only()
        p = build_panel(d, s, e)  # type: ignore[arg-type]
        return build_universe(p, cfg.universe)

    base_t, base_mem, _ = measure(read_only)
    t, mem, rss = measure(full)
    print("lake 1,000 assets x 8 years (hive-partitioned), window 3 years")
    print(f"  read + validate only      median {base_t:6.2f} s  traced peak {base_mem:7.1f} MB")
    print(
        f"  read + panel + universe   median {t:6.2f} s  traced peak {mem:7.1f} MB  max RSS {rss:7.1f} MB"
    )
    print(f"  ratio full / read-only    {t / base_t:5.2f}")
    print(f"  target: < 5 s and < 2,048 MB -> {'PASS' if t < 5 and rss < 2048 else 'MISS'}")


if __name__ == "__main__":
    main()
