"""The documentation cannot drift from the code: every configuration key is described, the
project's lake contract is the shared one, every file, column and kpis.json key a run writes is
in docs/outputs.md, and the README stays a short user guide whose links resolve. (The site
itself is built with ``mkdocs build --strict`` by the test command: a broken link fails it.)"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from majors_alts_monitor import cli
from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
SHARED_DOCS = REPO.parent / "shared" / "docs"


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", REPO / "tools" / "docs_hooks.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_configuration_key_is_described() -> None:
    rows = _hooks().config_rows()
    assert len(rows) > 50
    missing = [key for key, _, _, desc in rows if not desc.strip()]
    assert not missing, (
        f"describe these keys (Field(description=...) or a comment in config.yaml): {missing}"
    )
    page = _hooks().config_reference()
    for key, *_ in rows:
        assert f"`{key}`" in page


def test_the_lake_contract_is_the_shared_one() -> None:
    shared = SHARED_DOCS / "LAKE_CONTRACT.md"
    if not shared.is_file():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{shared} not found; CI=true requires ../shared beside the checkout")
        pytest.skip(
            f"{shared} not found: the shared contract is not beside this checkout, so there is "
            "nothing to compare docs/lake-contract.md with (CI=true makes this a failure)"
        )
    ours = (DOCS / "lake-contract.md").read_text()
    body = ours.split("-->", 1)[1].lstrip("\n")
    assert body == shared.read_text(), "docs/lake-contract.md differs from the shared contract"


def test_readme_is_a_short_guide_whose_links_resolve() -> None:
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) < 300
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        if target.startswith("http"):
            continue
        assert (REPO / target).exists(), f"README links to {target}, which does not exist"
    # the two set-up commands, and .ci/run calls the test one exactly
    blocks = re.findall(r"```bash\n(.*?)\n```", text, flags=re.S)
    test_cmd = next(b for b in blocks if "pytest" in b and "pip install" in b)
    assert test_cmd in (REPO / ".ci" / "run").read_text()
    assert any(
        b.startswith("pip install -e . && python -m majors_alts_monitor.run") for b in blocks
    )


def test_readme_daily_routine_is_the_tested_one() -> None:
    """The README's daily routine is the block ``tests/morning/test_daily_routine.py`` runs as
    written (docs/morning.md), character for character."""
    mark = "<!-- daily-routine -->"

    def block(text: str) -> str:
        m = re.match(r"\s*```bash\n(.*?)\n```", text.split(mark, 1)[1], re.S)
        assert m is not None
        return m.group(1)

    readme = (REPO / "README.md").read_text()
    assert block(readme) == block((DOCS / "morning.md").read_text())


@pytest.fixture(scope="module")
def run_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs_lake")
    spec = SyntheticSpec(n_assets=24, start=date(2020, 1, 1), end=date(2022, 12, 31), seed=5)
    lake = write_lake(generate(spec), out)[0]
    root = tmp_path_factory.mktemp("docs_run")
    held = root / "held.csv"  # the book-to-trade keys (amounts, orders) are written too
    held.write_text("asset_id,usd_notional\nBTC,1000\nALT001,-2500\n")
    sizing = ["--capital", "1000000", "--positions", str(held), "--min-order", "100"]
    assert (
        cli.main(["run", "--lake", str(lake), "--output-root", str(root), "--quiet", *sizing]) == 0
    )
    return root


def _keys(obj: object, prefix: str = "") -> set[str]:
    out: set[str] = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.add(k)
            out |= _keys(v, f"{prefix}{k}.")
    elif isinstance(obj, list):
        for v in obj:
            out |= _keys(v, prefix)
    return out


def test_every_output_file_column_and_key_is_documented(run_root: Path) -> None:
    doc = (DOCS / "outputs.md").read_text()
    written = [
        p
        for sub in ("reports", "artifacts")
        for p in (run_root / sub / "majors_alts").rglob("*")
        if p.is_file()
    ]
    for p in written:
        assert f"`{p.name}`" in doc, f"{p.name} is not in docs/outputs.md"
    rep = run_root / "reports" / "majors_alts"
    columns: set[str] = set()
    for name in ("regime_timeline.csv", "bt_daily_pnl.csv", "bt_equity_curve.csv"):
        columns |= set(pl.read_csv(rep / name, n_rows=1).columns)
    columns |= set(pl.read_csv(rep / "regime_metrics.csv").columns)
    columns |= set(pl.read_csv(rep / "pnl_attribution.csv", n_rows=1).columns)
    columns |= set(pl.read_parquet(run_root / "artifacts/majors_alts/trials.parquet").columns)
    generic = re.compile(r"^(contrib_|w_|z_)")
    undocumented = sorted(c for c in columns if not generic.match(c) and f"`{c}`" not in doc)
    assert not undocumented, f"columns missing from docs/outputs.md: {undocumented}"
    kpis = json.loads((rep / "kpis.json").read_text())
    sig = json.loads((rep / "signals_today.json").read_text())
    manifest = json.loads((run_root / "artifacts/majors_alts/run_manifest.json").read_text())
    keys = _keys(kpis) | _keys(sig) | set(manifest)
    # values that are keys of a mapping: regimes, feature names, assets, tables, config keys
    skip = {"RISK_ON_MAJORS", "BALANCED", "RISK_ON_ALTS"}
    skip |= _keys(kpis["walk_forward"]["folds"][0]["params"])
    skip |= _keys(sig.get("explain", {}).get("contributions", {}))
    skip |= _keys(sig.get("data_through", {}))
    skip |= {k for k in keys if k.startswith(("fact_", "dim_", "universe_snapshots"))}
    undocumented = sorted(
        k for k in keys - skip if not re.search(rf"[`\"{{ ,]{re.escape(k)}[`\"}} ,:]", doc)
    )
    assert not undocumented, (
        f"kpis.json / signal / manifest keys missing from docs/outputs.md: {undocumented}"
    )
