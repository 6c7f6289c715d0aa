"""Shared fixtures: where the read-only real fixture lakes live, and the package logger's
handlers put back after each test (``cli.main`` adds its own).

The real lakes sit beside the repository in ``shared/data`` (``real`` and ``real_binance``).
They are never copied or written. When they are absent a test that needs them is skipped,
except in CI (``CI=true``), where their absence is a failure with a clear message.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _locate(name: str) -> Path:
    lake = SHARED_DATA / name
    if not (lake / "fact_price.parquet").exists() and not (lake / "fact_price").is_dir():
        msg = (
            f"real fixture lake {lake} not found (expected shared/data/{name} beside the repo, "
            "holding fact_price.parquet)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + "; CI=true requires it", pytrace=False)
        pytest.skip(msg)
    return lake


@pytest.fixture(scope="session")
def real_lake() -> Path:
    """The real (aggregated) fixture lake, read-only."""
    return _locate("real")


@pytest.fixture(scope="session")
def real_binance_lake() -> Path:
    """The real Binance fixture lake, read-only."""
    return _locate("real_binance")


@pytest.fixture(autouse=True)
def _restore_cli_logging() -> Iterator[None]:
    """A command run in-process (``cli.main``) leaves its handlers on the package logger: each
    test ends with the handlers it started with."""
    root = logging.getLogger("majors_alts_monitor")
    before = list(root.handlers)
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in before:
        root.addHandler(h)
