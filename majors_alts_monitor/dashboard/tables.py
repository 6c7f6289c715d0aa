"""Number formatting and the HTML tables of the page (every text escaped here)."""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl

from ..labels import COST, PNL, num, p_value, regime_label
from .common import DashboardData, _prep

# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------

DASH = "—"


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if not math.isnan(v) else None


def _pct(x: Any, digits: int = 1) -> str:
    v = _num(x)
    if v is None:
        return DASH
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    return num(v, digits, pct=True)  # never "-0.0%"


def _ratio(x: Any, digits: int = 2) -> str:
    v = _num(x)
    if v is None:
        return DASH
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    return num(v, digits)  # never "-0.00"


def _int(x: Any) -> str:
    v = _num(x)
    if v is None or math.isinf(v):
        return DASH if v is None else str(v)
    return f"{round(v):,}"


def _generic(x: Any) -> str:
    if x is None:
        return DASH
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        if math.isnan(x):
            return DASH
        return f"{x + 0.0:.4g}"  # -0.0 + 0.0 is 0.0: never "-0"
    if isinstance(x, Mapping):
        return _compact(x)
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(_generic(v) for v in x) + "]"
    return str(x)


def _compact(params: Any) -> str:
    """``a=1, b.c=0.25`` for nested mappings; floats to 4 significant digits."""
    if not isinstance(params, Mapping):
        return _generic(params)
    items: list[str] = []

    def walk(prefix: str, obj: Mapping) -> None:
        for key, val in obj.items():
            name = f"{prefix}{key}"
            if isinstance(val, Mapping):
                walk(name + ".", val)
            else:
                items.append(f"{name}={_generic(val)}")

    walk("", params)
    return ", ".join(items) if items else DASH


def params_text(params: Any) -> str:
    """A fold's chosen parameters, short: the non-zero score weights (``name ±w``, the count of
    zero ones), then the other parameters (``lower=-0.5, ...``); other shapes as ``_compact``."""
    if not isinstance(params, Mapping) or not isinstance(params.get("weights"), Mapping):
        return _compact(params)
    w = params["weights"]
    on = [f"{k} {num(v, 2, sign=True)}" for k, v in w.items() if _num(v)]
    zero = len(w) - len(on)
    head = ", ".join(on) if on else "no weight"
    if zero:
        head += f" ({zero} at 0)"
    rest = _compact({k: v for k, v in params.items() if k != "weights"})
    return f"{head}; {rest}" if rest != DASH else head


def _sign_class(x: Any) -> str:
    v = _num(x)
    if v is None or v == 0:
        return "num"
    return "num pos" if v > 0 else "num neg"


Formatter = Callable[[Any], str]

KPI_ROWS: tuple[tuple[str, str, Formatter], ...] = (
    ("cagr", "CAGR", _pct),
    ("ann_return", "Annual return", _pct),
    ("ann_vol", "Annual volatility", _pct),
    ("sharpe", "Sharpe", _ratio),
    ("sortino", "Sortino", _ratio),
    ("max_drawdown", "Max drawdown", _pct),
    ("calmar", "Calmar", _ratio),
    ("hit_rate", "Hit rate", _pct),
    ("avg_daily_turnover", "Avg daily turnover", _pct),
    ("avg_daily_turnover_target", "Avg daily turnover (target to target)", _pct),
    ("total_fees", "Fees (cost)", lambda v: _pct(v, 2)),
    ("total_slippage", "Slippage (cost)", lambda v: _pct(v, 2)),
    ("total_funding", "Funding (P&L)", lambda v: _pct(v, 2)),
    ("exposure_share", "Share of days invested", _pct),
)

REGIME_COLUMNS: dict[str, tuple[str, Formatter]] = {
    "regime": ("Regime (exposure level)", str),
    "days": ("Days", _int),
    "share": ("Share", _pct),
    "mean_daily_return": ("Mean daily", lambda v: _pct(v, 3)),
    "ann_return": ("Ann. return", _pct),
    "ann_vol": ("Ann. vol", _pct),
    "sharpe": ("Sharpe (always-held)", _ratio),
    "hit_rate": ("Hit rate", _pct),
    "max_drawdown": ("Max drawdown", _pct),
    "strategy_sharpe": ("Sharpe (strategy)", _ratio),
    "edge": ("Edge (daily, in − out)", lambda v: _pct(v, 3)),
    "edge_p_value": ("Edge p-value", p_value),
}

WF_EXTRA_ROWS: tuple[tuple[str, str, Formatter], ...] = (
    ("effective_n_trials", "Effective number of trials", lambda v: _ratio(v, 1)),
    (
        "deflated_sharpe_effective",
        "Deflated Sharpe (effective N) · diagnostic: over-claims under correlated trials",
        lambda v: _ratio(v, 3),
    ),
    ("deflated_sharpe_hurdle_effective", "Hurdle (effective N)", _ratio),
    ("min_track_record_days", "Min. track record (days)", _int),
)

NEUTRALITY_ROWS: dict[str, str] = {
    "beta_btc_realized": "Realized beta to BTC",
    "beta_eth_realized": "Realized beta to ETH",
    "mean_abs_beta_btc_ex_ante": "Mean |ex-ante beta| to BTC",
    "mean_abs_beta_eth_ex_ante": "Mean |ex-ante beta| to ETH",
    "neutrality_error": "Neutrality error √(βbtc² + βeth²)",
}

e = html.escape

COST_CAPTION = (
    f"Fees and slippage are costs ({COST}); funding is a P&L ({PNL}); net = gross − fees − "
    "slippage + funding. Sums of daily returns over the out-of-sample P&L days."
)


def _humanise(key: str) -> str:
    return key.replace("_", " ").strip().capitalize()


def _table(
    table_id: str,
    header: Sequence[str] | None,
    rows: Sequence[Sequence[tuple[str, str]]],
    *,
    caption: str | None = None,
    notes: Mapping[int, str] | None = None,
) -> str:
    """Rows are sequences of ``(text, css_class)``; every text is escaped here. ``notes[i]``
    adds a full-width note row under row ``i``."""
    out = [f'<table id="{e(table_id)}">']
    if caption:
        out.append(f"<caption>{e(caption)}</caption>")
    if header is not None:
        cells = "".join(f"<th>{e(h)}</th>" for h in header)
        out.append(f"<thead><tr>{cells}</tr></thead>")
    out.append("<tbody>")
    if not rows:
        out.append(f'<tr><td colspan="{max(1, len(header or ()))}" class="muted">no rows</td></tr>')
    for i, row in enumerate(rows):
        cells = "".join(
            f'<td class="{e(cls)}">{e(text)}</td>' if cls else f"<td>{e(text)}</td>"
            for text, cls in row
        )
        out.append(f"<tr>{cells}</tr>")
        note = (notes or {}).get(i)
        if note:
            out.append(
                f'<tr class="note-row"><td colspan="{len(row)}" class="note">{e(note)}</td></tr>'
            )
    out.append("</tbody></table>")
    return "".join(out)


def _kpi_table(kpis: Mapping[str, Any]) -> str:
    """Strategy vs always-held book (net), plus the always-held book gross of costs when
    ``benchmark_always_on.gross`` is present."""
    strat = kpis.get("strategy") or {}
    bench = dict(kpis.get("benchmark_always_on") or {})
    gross = bench.pop("gross", None)
    gross = gross if isinstance(gross, Mapping) else None
    books = [strat, bench] + ([gross] if gross is not None else [])
    known = {k for k, _, _ in KPI_ROWS}
    rows: list[list[tuple[str, str]]] = []
    for key, label, fmt in KPI_ROWS:
        if any(key in b for b in books):
            rows.append([(label, "label")] + [(fmt(b.get(key)), "num") for b in books])
    extra = [k for b in books for k in b if k not in known]
    for key in dict.fromkeys(extra):
        rows.append([(_humanise(key), "label")] + [(_generic(b.get(key)), "num") for b in books])
    header = ["", "Strategy", "Always-held book"] + (
        ["Always-held, gross"] if gross is not None else []
    )
    return _table("kpi-table", header, rows, caption=COST_CAPTION)


def _span(start: Any, end: Any) -> str:
    text = f"{_generic(start)} → {_generic(end)}"
    try:
        days = (
            dt.date.fromisoformat(str(end)[:10]) - dt.date.fromisoformat(str(start)[:10])
        ).days + 1
    except ValueError:
        return text
    return f"{text} ({days:,} d)"


def _walk_forward_summary(wf: Mapping[str, Any]) -> str:
    ci = wf.get("oos_sharpe_ci95")
    if isinstance(ci, (list, tuple)) and len(ci) == 2:
        ci_text = f"[{_ratio(ci[0])}, {_ratio(ci[1])}]"
    else:
        ci_text = DASH if ci is None else _generic(ci)
    rows = [
        [("Out-of-sample Sharpe", "label"), (_ratio(wf.get("oos_sharpe")), "num")],
        [("95% CI (bootstrap)", "label"), (ci_text, "num")],
        [("Trials searched", "label"), (_int(wf.get("n_trials")), "num")],
        [("Deflated Sharpe (prob.)", "label"), (_ratio(wf.get("deflated_sharpe"), 3), "num")],
        [
            ("Hurdle: expected best null trial Sharpe", "label"),
            (_ratio(wf.get("deflated_sharpe_hurdle")), "num"),
        ],
        [
            ("Probabilistic Sharpe vs 0", "label"),
            (_ratio(wf.get("probabilistic_sharpe"), 3), "num"),
        ],
        [("Prob. of backtest overfitting", "label"), (_pct(wf.get("pbo")), "num")],
        [("Folds", "label"), (str(len(wf.get("folds") or [])), "num")],
    ]
    for key, label, fmt in WF_EXTRA_ROWS:
        if key in wf:
            rows.append([(label, "label"), (fmt(wf.get(key)), "num")])
    return _table("walk-forward-summary", None, rows)


FOLD_CAPTION_DECISIONS = (
    "Windows in decision days, as regime_timeline.csv labels them with the fold (the model "
    "decides at the close of the day); each decision's P&L falls on the next day, which is "
    "how kpis.json's train_start … test_end count (its *_decision_* keys are these days)."
)
FOLD_CAPTION_PNL = (
    "Windows in P&L days (kpis.json's train_start … test_end), one day after the decision "
    "days regime_timeline.csv labels with the fold."
)


def _folds_table(folds: Sequence[Mapping[str, Any]]) -> str:
    """The folds' windows in decision days (the timeline's and the signal's convention) when
    kpis.json has the ``*_decision_*`` keys, else in its P&L days; the caption says which."""
    decisions = bool(folds) and all("test_decision_start" in f for f in folds)
    k = "_decision" if decisions else ""
    rows = []
    for f in folds:
        rows.append(
            [
                (_generic(f.get("fold")), "num"),
                (_span(f.get(f"train{k}_start"), f.get(f"train{k}_end")), "span"),
                (_span(f.get(f"test{k}_start"), f.get(f"test{k}_end")), "span"),
                (_ratio(f.get("test_sharpe")), _sign_class(f.get("test_sharpe"))),
                (_ratio(f.get("train_sharpe")), _sign_class(f.get("train_sharpe"))),
                (params_text(_shown_params(f.get("params") or {})), "params"),
            ]
        )
    days = "decision days" if decisions else "P&L days"
    header = (
        "Fold",
        f"Train ({days})",
        f"Test ({days})",
        "Test Sharpe",
        "Train Sharpe",
        "Parameters",
    )
    cap = FOLD_CAPTION_DECISIONS if decisions else FOLD_CAPTION_PNL
    return _table("folds-table", header, rows, caption=cap)


# fold parameters left out of the folds table (still in kpis.json): the forecast's scaler
HIDDEN_PARAMS = ("center", "scale")


def _shown_params(params: Mapping[str, Any]) -> Mapping[str, Any]:
    return {k: v for k, v in params.items() if k not in HIDDEN_PARAMS}


FLAT_NOTE = "flat (exposure 0): the strategy holds nothing, so its Sharpe here is exit costs only"


def flat_regimes(pnl: pl.DataFrame | None) -> set[str]:
    """Regimes whose held exposure is 0 on every out-of-sample day they were held."""
    if pnl is None or not {"regime", "exposure"} <= set(pnl.columns) or pnl.height == 0:
        return set()
    g = pnl.group_by("regime").agg(pl.col("exposure").abs().max().alias("m"))
    return {str(r) for r, m in g.iter_rows() if r is not None and m is not None and m == 0}


def _regime_table(
    rm: pl.DataFrame | None,
    flat: set[str] | None = None,
    levels: Mapping[str, float] | None = None,
) -> str:
    """By-regime metrics; each regime named with what it holds (``levels``)."""
    if rm is None or rm.height == 0:
        return _table("regime-table", ("Regime",), [])
    flat = flat or set()
    cols = list(rm.columns)
    if "regime" in cols:
        cols.remove("regime")
        cols.insert(0, "regime")
    header = [REGIME_COLUMNS.get(c, (_humanise(c), _generic))[0] for c in cols]
    rows = []
    notes: dict[int, str] = {}
    for rec in rm.select(cols).iter_rows(named=True):
        row = []
        for c in cols:
            val = rec[c]
            if c == "regime":
                row.append(
                    (regime_label(val, levels, short=True), f"regime regime-{_generic(val)}")
                )
                continue
            fmt = REGIME_COLUMNS.get(c, ("", _generic))[1]
            cls = _sign_class(val) if c in ("sharpe", "strategy_sharpe", "ann_return") else "num"
            row.append((fmt(val), cls))
        if str(rec.get("regime")) in flat:
            notes[len(rows)] = f"{rec.get('regime')}: {FLAT_NOTE}"
        rows.append(row)
    return _table("regime-table", header, rows, notes=notes)


def _neutrality_table(neu: Mapping[str, Any]) -> str:
    rows = []
    for key, label in NEUTRALITY_ROWS.items():
        if key in neu:
            rows.append([(label, "label"), (_ratio(neu.get(key), 3), "num")])
    for key, val in neu.items():
        if key == "market_spread":
            continue  # its own table
        if key not in NEUTRALITY_ROWS:
            if isinstance(val, int) and not isinstance(val, bool):
                text = _int(val)  # counts (infeasible days, fallback name-days)
            else:
                text = _ratio(val, 3) if _num(val) is not None else _generic(val)
            rows.append([(_humanise(key), "label"), (text, "num")])
    return _table("neutrality-table", None, rows)


def _market_spread_table(ms: Any) -> str:
    """``neutrality.market_spread``: betas to the market and to the majors-alts spread; with
    per-book lags (each regression's own length) also the market beta's t and the lags."""
    if not isinstance(ms, Mapping):
        return ""
    per_book = any(
        isinstance(ms.get(b), Mapping) and "nw_lags" in ms[b] for b in ("strategy", "always_on")
    )
    cols = (
        ("beta_market", "β market", 3),
        ("se_market", "s.e.", 3),
        *((("t_market", "t market", 2),) if per_book else ()),
        ("beta_spread", "β spread", 3),
        ("se_spread", "s.e.", 3),
        ("t_spread", "t spread", 2),
    )
    rows = []
    for book, label in (("strategy", "Strategy"), ("always_on", "Always-held book")):
        b = ms.get(book)
        if isinstance(b, Mapping):
            rows.append(
                [(label, "label")]
                + [(_ratio(b.get(k), nd), "num") for k, _, nd in cols]
                + [(_int(b.get("n_days")), "num")]
                + ([(_int(b.get("nw_lags")), "num")] if per_book else [])
            )
    if per_book:
        cap = (
            "Newey-West standard errors, the lag from each regression's own length (the "
            "strategy: its invested days); |t| > 2 on the strategy is a run warning"
        )
    else:
        cap = f"Newey-West standard errors, {_int(ms.get('nw_lags'))} lags"
    header = ["", *(h for _, h, _ in cols), "Days", *(["Lags"] if per_book else [])]
    return _table("market-spread-table", header, rows, caption=cap)


def _funding_by_leg(fb: Any, unfunded_gross: Any = None) -> tuple[str, str]:
    """(warning banner or "", table) of ``funding_by_leg``; the caption gives every unfunded
    share with what it divides by (``unfunded_gross``: kpis.json costs.unfunded_share_mean)."""
    if not isinstance(fb, Mapping):
        return "", ""
    rows = []
    for book, label in (("strategy", "Strategy"), ("always_on", "Always-held book")):
        b = fb.get(book)
        if isinstance(b, Mapping):
            rows.append(
                [
                    (label, "label"),
                    (_pct(b.get("majors_long"), 2), _sign_class(b.get("majors_long"))),
                    (_pct(b.get("alts_short"), 2), _sign_class(b.get("alts_short"))),
                ]
            )
    cap = [f"funding {PNL}"]
    if "unfunded_short_share" in fb:
        cap.append(
            f"without funding data: {_pct(fb.get('unfunded_short_share'))} of the short "
            "notional (strategy, mean over its days with a short book)"
        )
    if "unfunded_short_share_always_on" in fb:
        cap.append(
            f"{_pct(fb.get('unfunded_short_share_always_on'))} of the always-held book's short "
            "notional"
        )
    if unfunded_gross is not None:
        cap.append(
            f"{_pct(unfunded_gross)} of the gross notional, long + short (strategy, mean over "
            "its invested days)"
        )
    if fb.get("rule"):
        cap.append(f"missing-funding rule: {_generic(fb.get('rule'))}")
    table = _table(
        "funding-table",
        ("", "Majors long", "Alts short"),
        rows,
        caption="; ".join(cap) if cap else None,
    )
    warn = fb.get("warning")
    banner = (
        f'<section class="card banner" id="funding-warning" role="alert"><strong>Funding:</strong> '
        f"{e(str(warn))}</section>"
        if warn
        else ""
    )
    return banner, table


def latest_state(d: DashboardData) -> dict[str, Any]:
    """The Latest badge's numbers: the run's signal when present, else the timeline's last row."""
    tl = _prep(d.timeline)
    last = tl.row(tl.height - 1, named=True) if tl.height else {}
    sig = d.signal if isinstance(d.signal, Mapping) else None
    out: dict[str, Any] = {
        "source": "signal" if sig else "timeline",
        "date": (sig or {}).get("asof", last.get("date")),
        "regime": (sig or last).get("regime"),
        "exposure": (sig or last).get("exposure"),
        "score": (sig or last).get("score"),
        "action": (sig or {}).get("action"),
        "previous_regime": (sig or {}).get("previous_regime"),
    }
    ex = (sig or {}).get("explain") if sig else None
    for key in ("days_in_regime", "dwell_left", "no_trade_reason"):
        val = ex.get(key) if isinstance(ex, Mapping) and key in ex else last.get(key)
        out[key] = val
    return out


def _latest(d: DashboardData) -> str:
    st = latest_state(d)
    if st["date"] is None and st["regime"] is None:
        return ""
    reg = "" if st["regime"] is None else str(st["regime"])
    badge = (
        f'<span id="latest-regime" class="regime regime-{e(reg)}" data-regime="{e(reg)}" '
        f'data-exposure="{e(_generic(st["exposure"]))}" data-score="{e(_generic(st["score"]))}" '
        f'data-source="{e(st["source"])}">{e(reg or DASH)}</span>'
    )
    levels = d.levels()
    meaning = regime_label(reg, levels)[len(reg) :].strip() if reg else ""
    if meaning:
        badge += f' <span class="muted" id="latest-meaning">{e(meaning)}</span>'
    parts = [badge, f"for the day after {e(_generic(st['date']))}"]
    if st["action"]:
        parts.append(f"action {e(str(st['action']))}")
    parts.append(f"score {e(_ratio(st['score'], 3))}")
    parts.append(f"exposure held {e(_ratio(st['exposure'], 2))}")
    if st["days_in_regime"] is not None:
        k = _int(st["days_in_regime"])
        parts.append(f"{e(k)} {'day' if k == '1' else 'days'} in regime")
    if st["dwell_left"] is not None:
        parts.append(f"dwell left {e(_int(st['dwell_left']))}")
    # the run's own signal: signals_today.json may hold a later call of `signals` since
    src = "this run's own signal" if st["source"] == "signal" else "the timeline's last row"
    refused = st.get("no_trade_reason")
    note = f'<p class="latest refused" id="latest-refused">{e(str(refused))}</p>' if refused else ""
    return (
        '<p class="latest">Latest: '
        + " · ".join(parts)
        + f' <span class="muted">(from {e(src)})</span></p>'
        + note
        + _why_today(d)
    )


def _why_today(d: DashboardData) -> str:
    """The timeline's last day: thresholds (and band) in force and the largest contributions."""
    tl = _prep(d.timeline)
    if tl.height == 0:
        return ""
    last = tl.row(tl.height - 1, named=True)
    bits = []
    if _num(last.get("lower")) is not None and _num(last.get("upper")) is not None:
        text = f"thresholds {_ratio(last['lower'])} / {_ratio(last['upper'])}"
        if _num(last.get("band")) is not None:
            text += f" (band {_ratio(last['band'])})"
        bits.append(text)
    contrib = {
        k.removeprefix("contrib_"): _num(v)
        for k, v in last.items()
        if k.startswith("contrib_") and _num(v) is not None
    }
    if contrib:
        top = sorted(contrib.items(), key=lambda kv: -abs(kv[1] or 0.0))[:3]
        bits.append("largest contributions " + ", ".join(f"{k} {v:+.2f}" for k, v in top))
    if not bits:
        return ""
    return (
        f'<p class="latest muted" id="latest-why">{e(str(last["date"]))}: {e("; ".join(bits))}</p>'
    )
