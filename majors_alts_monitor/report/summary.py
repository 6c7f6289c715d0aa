"""What a person reads: the end-of-run summary, the signal summary and the dashboard's inputs."""

from __future__ import annotations

import math
from pathlib import Path

from ..backtest.stages import RunResult
from ..config import Config
from ..dashboard import DashboardData, render_dashboard
from ..labels import p_value as p_text
from ..labels import regime_label
from ..market.features import describe_definitions
from .book_text import book_lines, regime_line
from .outputs import OutputPaths


def dashboard_html(res: RunResult, cfg: Config) -> str:
    tl = res.timeline
    feats = res.features
    data = DashboardData(
        title=f"Majors vs Alts regime monitor ({cfg.regime.mode})",
        timeline=tl,
        pnl=res.pnl,
        equity=res.equity,
        features=feats,
        betas=res.betas.join(res.pnl.select("date"), on="date", how="semi")
        if res.pnl.height
        else res.betas.head(0),
        kpis=res.kpis,
        regime_metrics=res.regime_metrics,
        warnings=tuple(res.warnings),
        trials=res.trials,
        attribution=res.attribution,
        signal=getattr(res, "signal", None),  # the run's signals_today.json, when it has one
        js_cache_dir=OutputPaths(cfg.paths.output_root).cache,
        regime_exposure=dict(cfg.regime.exposure),
    )
    return render_dashboard(data)


def _f(x: object, pct: bool = False, nd: int = 2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    v = float(x) * (100 if pct else 1)  # type: ignore[arg-type]
    v = round(v, nd) + 0.0  # -0.000 reads as a short position: print 0.000
    return f"{v:.{nd}f}%" if pct else f"{v:.{nd}f}"


def spa_lines(spa: dict | None) -> list[str]:
    """The headline: Hansen's SPA p-values (``walk_forward.spa``) and StepM's counts."""
    if not spa or spa.get("p_value") is None:
        return []
    p = spa["p_value"]
    verdict = "edge claimed" if spa.get("claims_edge") else "no edge claimed"
    fam = spa.get("family_size", 1)
    sampled = f", {spa['family_evaluated']} evaluated" if spa.get("family_sampled") else ""
    lines = [
        f"  SPA p-value           {p_text(p)} vs flat ({verdict} at "
        f"{_f(spa.get('alpha', 0.05) * 100, nd=0)}%), {p_text(spa.get('p_value_always_on'))} "
        f"vs always-on   best of {fam} (walk-forward book + {fam - 1} parameter sets{sampled}; "
        f"{spa.get('resamples')} resamples, block {_f(spa.get('mean_block'), nd=0)})",
    ]
    flat, on = spa.get("vs_flat"), spa.get("vs_always_on")
    if flat and on:

        def one(side: dict) -> str:
            wf = "in" if side["stepm_walk_forward_superior"] else "not in"
            return f"{side['stepm_n_superior']} (walk-forward book {wf})"

        lines.append(f"  StepM (FWER 5%)       beat flat: {one(flat)}; beat always-on: {one(on)}")
    return lines


def summary_text(res: RunResult, paths: OutputPaths, sig: dict | None = None) -> str:
    """The end-of-run summary; the signal lines print ``res.signal`` (the run's last-day
    labels, the same record as signals_today.json) unless ``sig`` is given."""
    sig = sig if sig is not None else (res.signal or None)
    k = res.kpis
    s, b, wf, nt = k["strategy"], k["benchmark_always_on"], k["walk_forward"], k["neutrality"]
    ci = wf["oos_sharpe_ci95"]
    lines = [
        "",
        "Majors vs Alts regime monitor: run summary",
        *stale_lines(k),
        f"  out-of-sample period  {k['period']['start']} .. {k['period']['end']} ({k['period']['days']} P&L days, "
        f"{len(wf['folds'])} folds, mode {wf['mode']})",
        *spa_lines(wf.get("spa")),
        f"  OOS Sharpe (net)      {_f(wf['oos_sharpe'])}  95% CI [{_f(ci[0])}, {_f(ci[1])}]   "
        f"PSR vs 0 {_f(wf.get('probabilistic_sharpe'), nd=3)}   always-on book "
        f"{_f(b['sharpe'])}",
        f"  deflated Sharpe       {_f(wf['deflated_sharpe'], nd=3)}  ({wf['n_trials']} trials/fold, "
        f"hurdle {_f(wf.get('deflated_sharpe_hurdle'))}; conservative)   PBO "
        f"{_f(wf['pbo'], nd=3)}",
        f"  at effective N        {_f(wf.get('deflated_sharpe_effective'), nd=3)}  "
        f"(N_eff {_f(wf.get('effective_n_trials'), nd=1)}, hurdle "
        f"{_f(wf.get('deflated_sharpe_hurdle_effective'))}; diagnostic: over-claims under "
        "correlated trials)",
        f"  CAGR / max drawdown   {_f(s['cagr'], True)} / {_f(s['max_drawdown'], True)}   "
        f"always-on {_f(b['cagr'], True)} / {_f(b['max_drawdown'], True)}",
        *cost_lines(k),
        f"  neutrality error      {_f(nt['neutrality_error'], nd=3)} (realized beta BTC "
        f"{_f(nt['beta_btc_realized'], nd=3)}, ETH {_f(nt['beta_eth_realized'], nd=3)})",
    ]
    lines += league_lines(k.get("league"))
    lines += [
        f"  definition            {x}"
        for x in describe_definitions(k.get("feature_definitions") or {})
    ]
    if sig is not None:
        levels = sig.get("exposure_by_regime")
        lines.append(
            f"  signal {sig['asof']}     {regime_label(sig['regime'], levels)} -> {sig['action']} "
            f"(exposure held {_f(sig['exposure'])}, score {_f(sig['score'], nd=3)}, "
            f"was {regime_label(sig['previous_regime'], levels)})"
        )
        if sig.get("explain"):
            lines.append(f"  why                   {sig['explain']['reason']}")
            if sig["explain"].get("no_trade_reason"):
                lines.append(f"  not traded            {sig['explain']['no_trade_reason']}")
        lines += book_lines(sig)
    if res.warnings:
        lines.append(f"  warnings              {len(res.warnings)} (also in run_manifest.json)")
        lines += [f"  warning  {w}" for w in res.warnings]
    lines += [
        f"  dashboard             {(paths.reports / 'dashboard.html').absolute()}",
        f"  reports               {paths.reports.absolute()}",
        f"  artifacts             {paths.artifacts.absolute()}",
        "",
    ]
    return "\n".join(lines)


def league_lines(league: dict | None) -> list[str]:
    """One console line: the best baseline of the league and how many the model beats at 5%
    after Holm's adjustment."""
    if not league or len(league.get("entries", [])) < 2:
        return []
    model, rest = league["entries"][0], league["entries"][1:]
    ok = [
        e for e in rest if isinstance(e.get("oos_sharpe"), float) and math.isfinite(e["oos_sharpe"])
    ]
    if not ok:
        return []
    best = max(ok, key=lambda e: e["oos_sharpe"])
    wins = sum(1 for e in rest if (e.get("spa_p_value_holm") or 1.0) < 0.05)
    return [
        f"  league                best baseline {best['rule']} {_f(best['oos_sharpe'])} "
        f"(model {_f(model['oos_sharpe'])}, SPA Holm p {_f(best.get('spa_p_value_holm'), nd=3)});"
        f" model beats {wins} of {len(rest)} baselines at 5%"
    ]


def stale_lines(k: dict) -> list[str]:
    """The run's stale banner (``report.freshness``): first, before any figure."""
    fr = k.get("freshness") or {}
    if fr.get("stale"):
        return [f"  STALE DATA: {fr['note'].removeprefix('STALE: ')}"]
    if fr.get("late"):
        return [
            f"  LATE CALL: the call is for {fr['trade_day']}, a day already over by today "
            f"{fr['today']} (the lake's last date is {fr['data_end']}, {fr['age_days']} days "
            "before today): see the first warning"
        ]
    return []


def cost_lines(k: dict) -> list[str]:
    """Costs (positive = paid) and funding (a signed P&L) on their own lines, with the
    unfunded shares and what each divides by (``labels``)."""
    s = k["strategy"]
    fb = k.get("funding_by_leg") or {}
    costs = k.get("costs") or {}
    unf = (
        f"; unfunded {_f(fb.get('unfunded_short_share'), True, 1)} of the short notional "
        f"({_f(costs.get('unfunded_share_mean'), True, 1)} of the gross)"
        if fb
        else ""
    )
    return [
        f"  costs (paid, sum)     fees {_f(s['total_fees'], True)}, slippage "
        f"{_f(s['total_slippage'], True)}; exposure share {_f(s['exposure_share'], True, 1)}",
        f"  funding P&L (sum)     {_f(s['total_funding'], True)} (signed: negative = paid){unf}",
    ]


def signal_text(sig: dict, where: Path | list[str]) -> str:
    """The console's signal: ``where``, the file written (or the lines saying where the call
    went, ``report.signal_files``). A stale call's banner comes first."""
    lines = [
        "",
        f"Signal as of {sig['asof']} (decision on data through {sig['decision_date']})",
        *(
            [
                "  STALE DATA: "
                + "; ".join(
                    w.removeprefix("STALE: ") for w in sig["warnings"] if w.startswith("STALE")
                )
            ]
            if sig["stale"]
            else []
        ),
        *(
            f"  LATE CALL: {w.removeprefix('LATE: ')}"
            for w in sig["warnings"]
            if w.startswith("LATE: ") and not sig["stale"]
        ),
        f"  regime   {regime_line(sig)}   score {_f(sig['score'], nd=3)}",
        f"  action   {sig['action']}   exposure held {_f(sig['exposure'])}",
        *([f"  why      {sig['explain']['reason']}"] if sig.get("explain") else []),
        *(
            [f"  refused  {sig['explain']['no_trade_reason']}"]
            if (sig.get("explain") or {}).get("no_trade_reason")
            else []
        ),
        f"  betas    BTC {_f(sig['book_betas']['btc'], nd=3)}  ETH {_f(sig['book_betas']['eth'], nd=3)}",
        *book_lines(sig),
        *(
            f"  model    {x}"
            for x in describe_definitions(sig.get("model", {}).get("feature_definitions") or {})
        ),
    ]
    for w in sig["warnings"]:
        if not w.startswith(("STALE", "LATE: ")):
            lines.append(f"  warning  {w}")
    if isinstance(where, Path):
        lines.append(f"  written  {where.absolute()}")
    else:
        lines += where
    return "\n".join([*lines, ""])
