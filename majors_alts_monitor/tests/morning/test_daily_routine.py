"""Issue 21: the daily routine of docs/morning.md works as written. The shell block under
``<!-- daily-routine -->`` is run line for line by bash, with only these substitutions: the
real Binance lake by a copy of it without its open-interest table (the mirror's daily metrics
files are most of its 100,000 files), ``~/majors`` by a temporary folder, port 8000 by a free
port, and ``majors-alts`` by this checkout's ``python -m majors_alts_monitor``."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from majors_alts_monitor.morning import ledger

pytestmark = [pytest.mark.real_data, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
MARK = "<!-- daily-routine -->"


def routine() -> str:
    text = (ROOT / "docs" / "morning.md").read_text()
    block = text.split(MARK, 1)[1]
    m = re.match(r"\s*```bash\n(.*?)\n```", block, re.S)
    assert m, f"no bash block after {MARK} in docs/morning.md"
    return m.group(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_daily_routine_works_as_written(real_binance_lake: Path, tmp_path: Path) -> None:
    lake = tmp_path / "real_binance"
    lake.mkdir()
    for p in real_binance_lake.iterdir():
        if p.name != "fact_open_interest.parquet":
            shutil.copy(p, lake / p.name)
    home = tmp_path / "majors"
    port = str(_free_port())
    script = routine()
    assert "../shared/data/real_binance" in script and "~/majors" in script
    script = script.replace("../shared/data/real_binance", str(lake))
    script = script.replace("~/majors", str(home)).replace("8000", port)
    script = re.sub(
        r"(?m)(^|\s)majors-alts ", rf"\1{sys.executable} -m majors_alts_monitor ", script
    )
    script = script.replace("python -m http.server", f"{sys.executable} -m http.server")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MAJORS_ALTS_CACHE": str(tmp_path / "cache")}
    env.pop("COINGECKO_API_KEY", None)
    res = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    assert "daily: exit 0 (steps: update binance-archive 0, update coingecko 0, signals 0)" in out
    recs = ledger.read(home / "out/reports/majors_alts/ledger")
    assert [r["decision_date"] for r in recs] == [
        "2026-02-24", "2026-02-25", "2026-02-26", "2026-02-27", "2026-03-03",
    ]  # fmt: skip
    assert [r["backfilled"] for r in recs] == [True] * 4 + [False]
    assert recs[-1]["command"] == "daily"
    sig = json.loads((home / "out/reports/majors_alts/signals_today.json").read_text())
    assert sig["decision_date"] == "2026-03-03"
    assert sig["orders"]["against"] == "ledger"
    assert sig["orders"]["ledger_entry"]["decision_date"] == "2026-02-27"
    assert "agreement: 5 of 5" in out and "P&L of the issued calls" in out
