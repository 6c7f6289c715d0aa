"""Issue 3 target: every feature and the neutral book for 1,000 assets x 3 years in under 10 s.

python benchmarks/bench_features_book.py
"""

from __future__ import annotations

from datetime import date

from _common import measure, synthetic_lake

from majors_alts_monitor.config import Config
from majors_alts_monitor.lake.data_io import LakeReader
from majors_alts_monitor.market.beta_neutral import build_book, rolling_betas
from majors_alts_monitor.market.features import compute_features
from majors_alts_monitor.market.panel import build_panel
from majors_alts_monitor.market.universe import build_universe


def main() -> None:
    lake = synthetic_lake(1000, date(2018, 1, 1), date(2025, 12, 31), partitioned=True)
    cfg = Config()
    s, e = date(2022, 1, 1), date(2024, 12, 31)
    d = LakeReader(lake, aliases=cfg.universe.aliases, exclude=cfg.universe.exclude).read(s, e)
    p = build_panel(d, s, e)
    u = build_universe(p, cfg.universe)
    rolling_betas(p, u, cfg.book)  # compile numba once

    def feats() -> object:
        return compute_features(p, u, zscore_window=180, zscore_min_periods=90)

    def book() -> object:
        return build_book(p, u, rolling_betas(p, u, cfg.book), cfg.book)

    tf, mf, _ = measure(feats)
    tb, mb, rss = measure(book)
    print(f"panel {p.n_days} days x {p.n_assets} assets")
    print(f"  features ({len(feats().names)})   median {tf:6.2f} s  traced peak {mf:7.1f} MB")  # type: ignore[attr-defined]
    print(f"  betas + book     median {tb:6.2f} s  traced peak {mb:7.1f} MB  max RSS {rss:7.1f} MB")
    print(f"  ratio book / features {tb / tf:5.2f}")
    print(f"  total {tf + tb:.2f} s; target < 10 s -> {'PASS' if tf + tb < 10 else 'MISS'}")


if __name__ == "__main__":
    main()
