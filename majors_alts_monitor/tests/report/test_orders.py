"""The book to trade in money (issue 21, item 4): ``report/orders.py`` pinned by hand, its
invariants by hypothesis, the positions CSV's errors, and ``--capital``/``--positions``/
``--min-order`` end to end on ``signals`` and ``run`` (console, signals_today.json,
dashboard)."""

from __future__ import annotations

import contextlib
import io
import json
import math
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from majors_alts_monitor import cli
from majors_alts_monitor.errors import MonitorError
from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake
from majors_alts_monitor.report.orders import amounts, orders, read_positions

BOOK = [
    {"asset_id": "BTC", "side": "long", "weight": 0.6},
    {"asset_id": "ETH", "side": "long", "weight": 0.4},
    {"asset_id": "SOL", "side": "short", "weight": -0.5},
    {"asset_id": "ADA", "side": "short", "weight": -0.5},
]


def test_orders_by_hand() -> None:
    """Capital 100,000, min order 1,000. Targets BTC 60,000, ETH 40,000, SOL -50,000,
    ADA -50,000; held BTC 20,000, ETH 40,300, SOL 10,000, XRP -7,345.
    BTC +40,000 (increase); ETH -300 rounds to 0 (below the minimum, not sent); ADA -50,000
    (open); SOL -60,000 (flip: +10,000 to -50,000); XRP +7,345 exactly (close, no dust)."""
    held = {"BTC": 20_000.0, "ETH": 40_300.0, "SOL": 10_000.0, "XRP": -7_345.0}
    out = orders(BOOK, held, 100_000.0, 1_000.0)
    got = {r["asset_id"]: (r["side"], r["kind"], r["order_usd"]) for r in out["rows"]}
    assert got == {
        "BTC": ("buy", "increase", 40_000.0),
        "SOL": ("sell", "flip", -60_000.0),
        "ADA": ("sell", "open", -50_000.0),
        "XRP": ("buy", "close", 7_345.0),
    }
    # longs, then shorts, then closes, each alphabetical
    assert [r["asset_id"] for r in out["rows"]] == ["BTC", "ADA", "SOL", "XRP"]
    assert out["below_min_order"] == [{"asset_id": "ETH", "delta_usd": pytest.approx(-300.0)}]
    assert out["traded_usd"] == pytest.approx(40_000 + 60_000 + 50_000 + 7_345)
    assert out["residual_usd"] == pytest.approx(300.0)
    # a smaller lot sends ETH's order too; no minimum: exact amounts
    assert orders(BOOK, held, 100_000.0, 100.0)["rows"][1]["order_usd"] == pytest.approx(-300.0)
    exact = orders(BOOK, held, 100_000.0, 0.0)
    assert exact["residual_usd"] == pytest.approx(0.0, abs=1e-9)
    assert exact["below_min_order"] == []


def test_orders_from_flat_and_to_flat() -> None:
    opened = orders(BOOK, {}, 10_000.0)
    assert [r["kind"] for r in opened["rows"]] == ["open"] * 4
    assert {r["asset_id"]: r["order_usd"] for r in opened["rows"]}["SOL"] == pytest.approx(-5000)
    closed = orders([], {"BTC": 6_000.0, "SOL": -5_000.0}, 10_000.0, 1_000.0)
    assert [(r["asset_id"], r["side"], r["order_usd"]) for r in closed["rows"]] == [
        ("BTC", "sell", -6_000.0),
        ("SOL", "buy", 5_000.0),
    ]
    with pytest.raises(ValueError, match="capital"):
        orders(BOOK, {}, 0.0)
    with pytest.raises(ValueError, match="min_order"):
        orders(BOOK, {}, 1.0, -1.0)


def test_amounts_are_weight_times_capital() -> None:
    a = amounts(BOOK, 250_000.0)
    assert [r["usd"] for r in a["rows"]] == [150_000.0, 100_000.0, -125_000.0, -125_000.0]
    assert a["long_usd"] == 250_000.0 and a["short_usd"] == -250_000.0


weights = st.floats(-1.0, 1.0, allow_nan=False).filter(lambda w: abs(w) > 1e-6)
usd = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.sampled_from("ABCDEFGH"), weights, max_size=6),
    st.dictionaries(st.sampled_from("ABCDEFGHIJ"), usd, max_size=6),
    st.floats(1e3, 1e8),
    st.sampled_from([0.0, 1.0, 100.0, 5_000.0]),
)
def test_orders_reach_the_target_within_half_a_lot(target, held, capital, lot) -> None:
    """After the orders every position is within half a lot of its target (exactly 0 for a
    name that leaves the book); every order is a multiple of the lot unless it is a close."""
    book = [{"asset_id": a, "weight": w} for a, w in target.items()]
    out = orders(book, held, capital, lot)
    after = dict(held)
    for r in out["rows"]:
        after[r["asset_id"]] = after.get(r["asset_id"], 0.0) + r["order_usd"]
        if r["kind"] != "close" and lot > 0:
            q = r["order_usd"] / lot
            assert abs(q - round(q)) < 1e-6
        assert (r["side"] == "buy") == (r["order_usd"] > 0)
    for a in set(target) | set(held):
        want = target.get(a, 0.0) * capital
        got = after.get(a, 0.0)
        if a not in target:
            assert got == 0.0 or math.isclose(got, 0.0, abs_tol=1e-6)
        else:
            assert abs(got - want) <= lot / 2 + 1e-6 * max(1.0, abs(want))


def test_positions_csv_is_read_and_refused_clearly(tmp_path: Path) -> None:
    good = tmp_path / "pos.csv"
    good.write_text("asset_id,usd_notional\n btc ,25000\nETH,-100.5\nSATS,10\n")
    assert read_positions(good, {"SATS": "1000SATS"}) == {
        "BTC": 25000.0,
        "ETH": -100.5,
        "1000SATS": 10.0,
    }
    cases = {
        "asset,usd\nBTC,1\n": "lacks the column",
        "asset_id,usd_notional\nBTC,1\nETH,abc\n": "usd_notional, line 3 (ETH)",
        "asset_id,usd_notional\nBTC,1\nBTC,2\n": "line 3: BTC appears twice",
        "asset_id,usd_notional\n,5\n": "line 2: empty asset id",
        "asset_id,usd_notional\nBTC,inf\n": "not a finite number",
    }
    for text, msg in cases.items():
        bad = tmp_path / "bad.csv"
        bad.write_text(text)
        with pytest.raises(MonitorError, match=msg.replace("(", r"\(").replace(")", r"\)")):
            read_positions(bad)
    with pytest.raises(MonitorError, match="not found"):
        read_positions(tmp_path / "missing.csv")


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("orders_lake")
    spec = SyntheticSpec(n_assets=24, start=date(2020, 1, 1), end=date(2022, 12, 31), seed=5)
    return write_lake(generate(spec), out)[0]


def _main(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(args)
    return code, out.getvalue(), err.getvalue()


def test_signals_with_capital_and_positions(lake: Path, tmp_path: Path) -> None:
    """The record gains ``amounts`` and ``orders`` (new keys; every other key as without the
    options), the console lists the book in dollars and the orders."""
    base = ["signals", "--lake", str(lake), "--asof", "2022-10-15", "--quiet"]
    code, _, _ = _main([*base, "--output-root", str(tmp_path / "plain")])
    assert code == 0
    plain = json.loads((tmp_path / "plain/reports/majors_alts/signals_today.json").read_text())
    assert plain["amounts"] is None and plain["orders"] is None
    assert plain["exposure_by_regime"] == {
        "RISK_ON_MAJORS": 1.0,
        "BALANCED": 0.0,
        "RISK_ON_ALTS": 0.0,
    }
    book = plain["targets"] or plain["book"]
    held = tmp_path / "held.csv"
    held.write_text(f"asset_id,usd_notional\n{book[0]['asset_id']},1234\nNOTINBOOK,-500\n")
    code, out, _ = _main(
        [*base, "--output-root", str(tmp_path / "sized"), "--capital", "1e6"]
        + ["--positions", str(held), "--min-order", "1000"]
    )
    assert code == 0
    sig = json.loads((tmp_path / "sized/reports/majors_alts/signals_today.json").read_text())
    same = {k: v for k, v in sig.items() if k not in ("amounts", "orders", "generated_at")}
    assert same == {
        k: v for k, v in plain.items() if k not in ("amounts", "orders", "generated_at")
    }
    assert sig["amounts"]["capital_usd"] == 1e6
    for r, t in zip(sig["amounts"]["rows"], sig["targets"], strict=True):
        assert r["usd"] == pytest.approx(t["weight"] * 1e6)
    want = orders(sig["targets"], {book[0]["asset_id"]: 1234.0, "NOTINBOOK": -500.0}, 1e6, 1000)
    assert sig["orders"]["rows"] == want["rows"]
    assert sig["orders"]["positions_file"] == "held.csv"
    assert "orders   against held.csv, min order 1,000 USD" in out
    assert "buy   NOTINBOOK" in out and "close" in out
    if sig["targets"]:
        assert "USD at capital 1,000,000" in out


def test_sizing_options_are_checked(lake: Path, tmp_path: Path) -> None:
    args = ["signals", "--lake", str(lake), "--output-root", str(tmp_path), "--quiet"]
    pos = tmp_path / "p.csv"
    pos.write_text("asset_id,usd_notional\nBTC,1\n")
    code, _, err = _main([*args, "--positions", str(pos)])
    assert code == 2 and "--positions needs --capital" in err
    code, _, err = _main([*args, "--capital", "1000", "--positions", str(tmp_path / "none.csv")])
    assert code == 2 and "not found" in err
    code, _, err = _main([*args, "--capital", "0"])
    assert code == 2 and "--capital must be a positive amount" in err
    with pytest.raises(SystemExit):
        _main([*args, "--capital", "-5"])  # argparse: not an amount of USD
