"""The round trip of the real Binance lake through the sources' own formats (issue 20's "done
when"): ``../shared/data/real_binance`` written out in the Binance archive's layout (spot klines,
USD-M funding under its real futures names such as ``1000PEPEUSDT``, daily metrics for open
interest) and as CoinGecko ``market_chart/range`` answers (``mirror``); a lake built from it by
``import`` (history) and ``update`` over HTTP from a local server (the rest, in two mornings);
then the same ``run`` on both lakes. Used by ``test_update_real.py`` and
``benchmarks/roundtrip_real_binance.py``."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from majors_alts_monitor import cli
from majors_alts_monitor.publish.lock import LOCK_NAME
from majors_alts_monitor.tests.lake.archive_server import ServerState, serve

DAILY_FROM = "2026-03-01"  # spot klines from here on as daily files (the rest monthly)
FUNDING_THROUGH = "2026-05"
HISTORY_KLINES = "2025-12"  # imported from files up to this month; updated after it
HISTORY_METRICS = "2025-10-19"  # open interest: imported up to this day (it ends 2025-10-26)
MORNINGS = ("2026-03-05", "2026-06-02")  # two top-ups: March's first days, then the rest
IGNORED_KPIS = {"run_id"}


@dataclass
class RoundTrip:
    archive: Path
    lake: Path
    timings: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)


def _main(argv: list[str], quiet: bool = True) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli.main(argv)
    if code != 0:
        raise RuntimeError(f"majors-alts {' '.join(argv[:2])} exited {code}:\n{buf.getvalue()}")
    return buf.getvalue()


@contextlib.contextmanager
def _env(**kv: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in kv}
    os.environ.update(kv)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _upto(files: list[Path], last: str) -> list[str]:
    """Archive files whose period (``YYYY-MM`` or ``YYYY-MM-DD`` at the end of the name) is at
    or before ``last``."""
    out = []
    for f in files:
        stem = f.name.removesuffix(".zip")
        daily = stem[-3] == "-" and stem[-6] == "-"
        period = stem[-10:] if daily else stem[-7:]
        if period <= last:
            out.append(str(f))
    return sorted(out)


def build(real: Path, work: Path) -> RoundTrip:
    """Mirror ``real``, import its history and update the rest from a local server."""
    rt = RoundTrip(work / "archive", work / "lake")
    t = time.perf_counter()
    rt.outputs["mirror"] = _main(
        ["mirror", str(real), str(rt.archive), "--daily-from", DAILY_FROM,
         "--funding-through", FUNDING_THROUGH]
    )  # fmt: skip
    rt.timings["mirror"] = time.perf_counter() - t
    a = rt.archive / "data"
    t = time.perf_counter()
    kl = _upto(list((a / "spot/monthly/klines").glob("*/1d/*.zip")), HISTORY_KLINES)
    fu = _upto(list((a / "futures/um/monthly/fundingRate").glob("*/*.zip")), HISTORY_KLINES)
    me = _upto(list((a / "futures/um/daily/metrics").glob("*/*.zip")), HISTORY_METRICS)
    out = str(rt.lake)
    rt.outputs["import"] = _main(["import", "binance-klines", *kl, "--out", out])
    rt.outputs["import"] += _main(
        ["import", "binance-funding", *fu, "--out", out, "--partial-days", "keep"]
    )
    rt.outputs["import"] += _main(["import", "binance-metrics", *me, "--out", out])
    rt.timings["import"] = time.perf_counter() - t
    cache = str(work / "cache")
    coins = {
        f.name: json.loads((f / "market_chart/range").read_text())
        for f in (rt.archive / "coingecko/api/v3/coins").iterdir()
    }
    state = ServerState(rt.archive, s3=True, coins=coins)
    t = time.perf_counter()
    with serve(state) as url:
        for i, today in enumerate(MORNINGS):
            rt.outputs[f"update {today}"] = _main(
                ["update", "binance-archive", "--out", out, "--base-url", url, "--cache", cache,
                 "--today", today, "--partial-days", "keep"]
            )  # fmt: skip
            if i == 0:
                rt.timings["update binance-archive (first morning)"] = time.perf_counter() - t
        # a rerun the same morning changes no byte
        before = _files(rt.lake)
        rt.outputs["update rerun"] = _main(
            ["update", "binance-archive", "--out", out, "--base-url", url, "--cache", cache,
             "--today", MORNINGS[-1], "--partial-days", "keep"]
        )  # fmt: skip
        rt.outputs["rerun changed"] = json.dumps(
            sorted(k for k, v in _files(rt.lake).items() if before.get(k) != v)
        )
        t = time.perf_counter()
        first = str(pl.read_parquet(rt.lake / "fact_price.parquet")["date"].min())
        with _env(COINGECKO_PRO_API_KEY="local-mirror"):  # a mirror: no free-plan window
            rt.outputs["update coingecko"] = _main(
                ["update", "coingecko", "--out", out, "--base-url", url + "api/v3",
                 "--ids-file", str(rt.archive / "coingecko/ids.csv"), "--start", first,
                 "--today", MORNINGS[-1], "--min-interval", "0"]
            )  # fmt: skip
        rt.timings["update coingecko"] = time.perf_counter() - t
    rt.outputs["requests"] = str(len(state.requests))
    return rt


def _files(root: Path) -> dict[str, tuple[int, int]]:
    """Every file of a lake (through its links) with size and mtime; the lake's lock file left
    out: a writer takes the lock (its owner's name is written there) before it knows whether
    anything changes."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() and p.name != LOCK_NAME
    }


def run(lake: Path, out: Path) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The default run on ``lake`` (whole span): its timeline and kpis.json."""
    _main(["run", "--lake", str(lake), "--output-root", str(out), "--quiet"])
    rep = out / "reports" / "majors_alts"
    return pl.read_csv(rep / "regime_timeline.csv"), json.loads((rep / "kpis.json").read_text())


def kpi_differences(a: Any, b: Any, path: str = "", tol: float = 1e-9) -> list[str]:
    """Every leaf of two kpis.json where numbers differ by more than ``tol`` (relative above 1)
    or anything else differs; ``IGNORED_KPIS`` left out."""
    out: list[str] = []
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k in IGNORED_KPIS:
                continue
            out += kpi_differences(a.get(k), b.get(k), f"{path}.{k}", tol)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items vs {len(b)}"]
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out += kpi_differences(x, y, f"{path}[{i}]", tol)
    elif isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        if not ((math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol * max(1.0, abs(a), abs(b))):
            out.append(f"{path}: {a!r} vs {b!r}")
    elif a != b:
        out.append(f"{path}: {a!r} vs {b!r}")
    return out


def compare(real: Path, rebuilt: Path, work: Path) -> dict[str, Any]:
    """Runs on both lakes; regime days that differ and KPI leaves that differ."""
    tl0, k0 = run(real, work / "run_real")
    tl1, k1 = run(rebuilt, work / "run_rebuilt")
    j = tl0.join(tl1, on="date", how="full", suffix="_rebuilt", coalesce=True)
    diff_days = j.filter(pl.col("regime").ne_missing(pl.col("regime_rebuilt"))).height
    return {
        "regime_days_different": diff_days,
        "timeline_days": tl0.height,
        "kpi_differences": kpi_differences(k0, k1),
        "oos_sharpe": (k0["walk_forward"]["oos_sharpe"], k1["walk_forward"]["oos_sharpe"]),
    }
