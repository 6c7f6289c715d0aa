"""The self-contained HTML page: CSS, the probe scripts and :func:`render_dashboard`.

plotly.js is embedded once, gzip-compressed and base64-encoded (about 2 MB instead of 4.8 MB),
and unpacked in the browser with ``DecompressionStream`` (Chrome 80+, Firefox 113+, Safari
16.4+); nothing is fetched. Each figure is a JSON spec in ``<script type="application/json">``
drawn once plotly.js is unpacked; the figures' shared template is embedded once
(``<script type="application/json" id="plotly-template">``) and given to each by the loader.
Pages that draw their own charts (the sweep's) register a function in ``window.PLOTLY_READY``,
called once plotly.js is there. No plotly.py module is imported: the figures are dicts
(:mod:`.plot`) and plotly.js is read from the installed package's file.

Layout: one column under 1000 px, tables scroll inside their box, charts are responsive
(``autosize``), legends sit below the plots, no fixed widths.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import html
import importlib.util
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

from ..market.features import describe_definitions
from .book import BOOK_CSS, book_card
from .common import FONT_STACK, PLOTLY_CONFIG, DashboardData
from .figures import FIGURES
from .headline import headline_card
from .league_table import league_table
from .plot import TEMPLATE, Figure, to_json
from .tables import (
    _folds_table,
    _funding_by_leg,
    _generic,
    _int,
    _kpi_table,
    _latest,
    _market_spread_table,
    _neutrality_table,
    _regime_table,
    _walk_forward_summary,
    flat_regimes,
)
from .tearsheet_figures import (
    MISSING,
    fig_attribution,
    fig_contributions,
    fig_robustness,
    fig_rolling,
    fig_trials,
)
from .tearsheet_tables import (
    attribution_table,
    drawdown_table,
    monthly_table,
    robustness_tables,
    trades_table,
)

e = html.escape

CSS = (
    """
:root { --ink:#1d2433; --muted:#5b6475; --line:#e3e6eb; --bg:#f4f5f7; --card:#fff;
        --pos:#1f7a46; --neg:#b83232; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font: 14px/1.45 FONTS; -webkit-font-smoothing: antialiased; }
main { max-width: 1400px; margin: 0 auto; padding: 24px 28px 48px; }
@media (max-width: 600px) { main { padding: 12px 8px 32px; } .card { padding: 12px 10px; }
  h1 { font-size: 20px; } }
header { margin-bottom: 18px; }
h1 { font-size: 24px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 15px; margin: 0 0 10px; text-transform: uppercase; letter-spacing: .04em;
     color: var(--muted); }
.sub { color: var(--muted); margin: 0; }
.latest { margin: 8px 0 0; }
.grid { display: grid; grid-template-columns: minmax(0,1.15fr) minmax(0,1fr); gap: 18px;
        align-items: start; }
.stack > .card + .card { margin-top: 18px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
        padding: 16px 18px; margin-bottom: 18px; box-shadow: 0 1px 2px rgba(16,24,40,.04); }
.grid .card { margin-bottom: 0; }
.grid { margin-bottom: 18px; }
.scroll { overflow-x: auto; max-width: 100%; -webkit-overflow-scrolling: touch; }
.scroll.tall { max-height: 460px; overflow-y: auto; }
.card h3 { font-size: 14px; margin: 6px 0 6px; font-weight: 600; }
.note { color: var(--muted); font-size: 12px; margin: 6px 0 0; }
.banner { background: #fdecec; border-color: #e8a3a3; color: #7d1d1d; }
caption { caption-side: bottom; text-align: left; color: var(--muted); font-size: 12px;
          padding-top: 6px; }
table.heat td { padding: 4px 6px; }
td.note { color: var(--muted); font-size: 12px; white-space: normal; padding-top: 0; }
tr.note-row td { border-top: none; }
table { border-collapse: collapse; width: 100%; font-size: 13px;
        font-variant-numeric: tabular-nums; }
th { text-align: left; font-weight: 600; color: var(--muted); border-bottom: 2px solid var(--line);
     padding: 6px 10px; white-space: nowrap; }
td { padding: 5px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
tbody tr:last-child td { border-bottom: none; }
tbody tr:hover td { background: #f8f9fb; }
td.num { text-align: right; white-space: nowrap; }
th:not(:first-child) { text-align: right; }
#folds-table th:nth-child(2), #folds-table th:nth-child(3), #folds-table th:last-child { text-align: left; }
td.span { white-space: nowrap; }
#trades-table th:nth-child(-n+3), #drawdown-table th:nth-child(-n+4),
#robustness-start-table th:nth-child(2) { text-align: left; }
td.params { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
            font-size: 12px; color: var(--muted); min-width: 44em; overflow-wrap: anywhere; }
td.label { min-width: 10em; }
@media (min-width: 1000px) { #regime-table th { white-space: normal; vertical-align: bottom; } }
.scroll td.label:first-child, .scroll th:first-child { position: sticky; left: 0; z-index: 1;
            background: var(--card); }
tbody tr:hover td.label:first-child { background: #f8f9fb; }
.latest.refused { color: var(--neg); font-weight: 600; }
td.pos { color: var(--pos); } td.neg { color: var(--neg); }
td.label { color: var(--ink); }
td.label.model { font-weight: 600; }
.muted { color: var(--muted); }
.regime { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
          font-weight: 600; white-space: nowrap; }
.regime-RISK_ON_MAJORS { background: #e3f3ea; color: #1f7a46; }
.regime-BALANCED { background: #eceef2; color: #4a5263; }
.regime-RISK_ON_ALTS { background: #fbe6e6; color: #a12a2a; }
td.regime { display: table-cell; border-radius: 0; background: none; padding: 5px 10px;
            font-size: 13px; }
td.regime::before { content: ""; display: inline-block; width: 10px; height: 10px;
                    border-radius: 2px; margin-right: 8px; vertical-align: -1px; background: #b0b0b0; }
td.regime-RISK_ON_MAJORS::before { background: #2e9d5b; }
td.regime-BALANCED::before { background: #8a94a6; }
td.regime-RISK_ON_ALTS::before { background: #d64545; }
.warnings { background: #fff8e6; border-color: #f0d48a; }
.headline { border-color: #b9c3d6; }
.headline td.strong { font-weight: 700; font-size: 15px; }
.headline td.verdict { font-weight: 600; white-space: nowrap; }
.warnings h2 { color: #8a6100; }
.warnings ul { margin: 0; padding-left: 20px; }
.figure { padding: 8px 10px; }
.figure .plot { width: 100%; min-height: 200px; }
footer { color: var(--muted); font-size: 12px; margin-top: 12px; }
#script-errors { display: none; }
.grid > * { min-width: 0; }
.grid.even { grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
@media (max-width: 1000px) { .grid, .grid.even { grid-template-columns: minmax(0, 1fr); } }
""".replace("FONTS", FONT_STACK)
    + BOOK_CSS
)

ERROR_SCRIPT = """
(function () {
  var n = 0;
  function record(msg) {
    n += 1;
    document.body.dataset.scriptErrors = String(n);
    var pre = document.getElementById('script-errors');
    if (pre) { pre.textContent += msg + '\\n'; }
  }
  window.addEventListener('error', function (ev) {
    if (ev instanceof ErrorEvent) {
      record((ev.message || 'error') + ' @ ' + (ev.filename || '') + ':' + (ev.lineno || 0));
    } else {
      var t = ev.target || {};
      record('resource failed: ' + (t.src || t.href || t.tagName || 'unknown'));
    }
  }, true);
  window.addEventListener('unhandledrejection', function (ev) {
    record('unhandled rejection: ' + String(ev.reason));
  });
})();
"""

COUNT_SCRIPT = """
(function () {
  var expected = Number(document.body.dataset.figuresExpected || 0);
  var tries = 0;
  function count() {
    var n = 0;
    document.querySelectorAll('.js-plotly-plot').forEach(function (el) {
      if (el.querySelector('svg.main-svg')) { n += 1; }
    });
    var b = document.body.dataset;
    b.figuresRendered = String(n);
    b.scrollWidth = String(document.documentElement.scrollWidth);
    b.innerWidth = String(window.innerWidth);
    if (n < expected && tries < 150) { tries += 1; setTimeout(count, 100); }
  }
  if (document.readyState === 'complete') { count(); }
  else { window.addEventListener('load', count); }
})();
"""

LOADER_SCRIPT = """
(function () {
  function later(err) { setTimeout(function () { throw err; }, 0); }
  function draw() {
    var config = CONFIG;
    var tpl = document.getElementById('plotly-template');
    document.querySelectorAll('script[data-figure]').forEach(function (el) {
      try {
        var spec = JSON.parse(el.textContent);
        var id = el.getAttribute('data-figure');
        var div = document.getElementById(id);
        if (!div) { throw new Error('no element #' + id + ' for its figure'); }
        if (tpl) { spec.layout.template = JSON.parse(tpl.textContent); }
        window.Plotly.newPlot(div, spec.data, spec.layout, config);
      } catch (err) {  // one broken figure must not stop the others: report it, go on
        later(err);
      }
    });
    (window.PLOTLY_READY || []).forEach(function (fn) {
      try { fn(); } catch (err) { later(err); }
    });
  }
  if (!('DecompressionStream' in window)) {
    document.querySelectorAll('.plot').forEach(function (el) {
      el.textContent = 'This browser cannot unpack the embedded charts (it needs ' +
        'DecompressionStream: Chrome 80+, Firefox 113+, Safari 16.4+).';
    });
    throw new Error('DecompressionStream unavailable: charts not drawn');
  }
  var text = atob(document.getElementById('plotly-js-gz').textContent.trim());
  var bytes = new Uint8Array(text.length);
  for (var i = 0; i < text.length; i++) { bytes[i] = text.charCodeAt(i); }
  var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  new Response(stream).text().then(function (js) {
    var s = document.createElement('script');
    s.text = js;
    document.head.appendChild(s);
    draw();
  });
})();
"""


def plotly_js_path() -> Path:
    """The installed plotly package's bundled ``plotly.min.js``, found without importing plotly
    (``import plotly`` costs ~25 ms, ``plotly.offline`` ~35 ms; the file is all we need)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the plotly package is not installed: pip install plotly")
    return Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"


def plotly_js_bytes() -> bytes:
    """plotly.js as ``plotly.offline.get_plotlyjs()`` gives it, UTF-8 encoded."""
    return plotly_js_path().read_bytes()


@functools.lru_cache(maxsize=4)
def plotly_js_gz_b64(cache_dir: Path | None = None) -> str:
    """The installed plotly.js, gzip-compressed (level 9, mtime 0: reproducible), base64.

    Compressing 4.8 MB at level 9 takes about 0.4 s, so when ``cache_dir`` is given (the run's
    ``<output root>/cache``, never anywhere else) the result is kept there under the SHA-256 of
    the plotly.js it encodes, with the SHA-256 of the text itself beside it (``.sha256``): the
    text is reused only when it still has that hash (a damaged or truncated file is computed
    again and replaced, never embedded). An unreadable or unwritable cache is skipped (the text
    is then computed)."""
    raw = plotly_js_bytes()
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"plotly-{hashlib.sha256(raw).hexdigest()[:20]}.gz.b64"
        try:
            text = path.read_text(encoding="ascii")
            want = path.with_name(path.name + ".sha256").read_text(encoding="ascii").strip()
            if hashlib.sha256(text.encode("ascii")).hexdigest() == want:
                return text
        except (OSError, UnicodeDecodeError):
            pass
    text = base64.b64encode(gzip.compress(raw, compresslevel=9, mtime=0)).decode("ascii")
    if path is not None:
        digest = hashlib.sha256(text.encode("ascii")).hexdigest()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            for target, body in ((path, text), (path.with_name(path.name + ".sha256"), digest)):
                tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
                tmp.write_text(body, encoding="ascii")
                tmp.replace(target)  # whole file or nothing, even with concurrent runs
        except OSError:
            pass
    return text


def _spec(fig: Figure) -> str:
    """The figure's data and layout as compact JSON, safe inside ``<script>``. The layout's
    title moves to the card's HTML heading (it wraps on narrow screens), and its template
    (:data:`~.plot.TEMPLATE`) to the page's one ``plotly-template`` script."""
    layout = {k: v for k, v in fig["layout"].items() if k not in ("title", "template")}
    return to_json({"data": fig["data"], "layout": layout})


def plotly_scripts(cache_dir: Path | None, template: bool = True) -> list[str]:
    """The end of a page: the compressed plotly.js, the figures' template (``template``) and the
    loader that unpacks plotly.js, draws every ``data-figure`` spec and then calls the page's
    ``window.PLOTLY_READY`` functions. Shared by the run's and the sweep's pages."""
    return [
        f'<script type="text/plain" id="plotly-js-gz">{plotly_js_gz_b64(cache_dir)}</script>',
        f'<script type="application/json" id="plotly-template">{to_json(TEMPLATE)}</script>'
        if template
        else "",
        f"<script>{LOADER_SCRIPT.replace('CONFIG', json.dumps(PLOTLY_CONFIG))}</script>",
    ]


def _title(fig: Figure) -> str:
    t = (fig["layout"].get("title") or {}).get("text")
    return str(t) if t else ""


def _figure_html(name: str, fig: Figure, note: str = "") -> str:
    """The figure's card. Its plot box is given the figure's height: plotly's responsive resize
    (a phone's address bar, a rotation) sizes a chart to its box, and a box without a height
    would shrink it to the CSS minimum under the next card."""
    extra = f'<p class="note">{e(note)}</p>' if note else ""
    h = fig["layout"].get("height")
    style = f' style="height:{int(h)}px"' if isinstance(h, int | float) else ""
    return (
        f'<section class="card figure" id="section-{e(name)}"><h2>{e(_title(fig))}</h2>'
        f'<div class="plot" id="fig-{e(name)}"{style}></div>'
        f'<script type="application/json" data-figure="fig-{e(name)}">{_spec(fig)}</script>'
        f"{extra}</section>"
    )


def _missing(name: str, title: str) -> str:
    return (
        f'<section class="card" id="section-{e(name)}"><h2>{e(title)}</h2>'
        f'<p class="note">{e(MISSING[name])}</p></section>'
    )


def _card(section_id: str, title: str, body: str) -> str:
    return f'<section class="card" id="{e(section_id)}"><h2>{e(title)}</h2>{body}</section>'


CAPTION = re.compile(r"<caption>(.*?)</caption>", re.S)


def _scroll(table: str, tall: bool = False) -> str:
    """The table in a box that scrolls sideways (and down, ``tall``); its caption goes under
    the box as a note, so it wraps to the screen and not to a wide table's width."""
    notes = "".join(f'<p class="note caption">{c}</p>' for c in CAPTION.findall(table))
    table = CAPTION.sub("", table)
    return f'<div class="scroll{" tall" if tall else ""}">{table}</div>{notes}'


OPTIONAL: tuple[tuple[str, str, Callable[[DashboardData], Figure | None]], ...] = (
    ("contributions", "Why this regime: score contributions", fig_contributions),
    ("attribution", "Gross P&L attribution", fig_attribution),
    ("robustness", "Robustness", fig_robustness),
    ("trials", "Trials' Sharpe by thresholds", fig_trials),
)
"""Figures drawn only when their input is present (else a short note)."""


def page_start(title: str, css: str, n_figures: int) -> list[str]:
    """The head and the opening of the body shared by the run's and the sweep's pages: the
    browser test reads ``data-figures-expected/-rendered`` and ``data-script-errors`` from the
    body, which ``ERROR_SCRIPT`` and ``COUNT_SCRIPT`` keep. ``title`` is escaped HTML."""
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>",
        f"<style>{css}</style>",
        "</head>",
        f'<body data-figures-expected="{n_figures}" data-figures-rendered="0" '
        'data-script-errors="0">',
        '<pre id="script-errors" hidden></pre>',
        f"<script>{ERROR_SCRIPT}</script>",
        "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>",
    ]


def _stale_banner(fr: object) -> str:
    """The stale banner (kpis.json ``freshness``, ``report.freshness``): the lake is older than
    ``data.max_age_days`` for a run that reaches today."""
    if not isinstance(fr, dict) or not fr.get("stale"):
        return ""
    return (  # the warning's own words (STALE: ...), as on the console and in the files
        f'<section class="card banner" id="stale-banner" role="alert" '
        f'data-data-end="{e(str(fr.get("data_end")))}" data-today="{e(str(fr.get("today")))}">'
        f"<strong>{e(str(fr.get('note') or 'STALE'))}</strong></section>"
    )


def render_dashboard(d: DashboardData) -> str:
    """The whole page as one self-contained HTML string (plotly.js inline, nothing fetched)."""
    kpis = d.kpis or {}
    period = kpis.get("period") or {}
    conv = kpis.get("conventions") or {}
    wf = kpis.get("walk_forward") or {}
    neu = kpis.get("neutrality") or {}
    core = {name: fn(d) for name, fn in FIGURES}
    core["rolling"] = fig_rolling(d)
    opt = {name: fn(d) for name, _, fn in OPTIONAL}
    n_figures = len(core) + sum(f is not None for f in opt.values())
    title = e(d.title)

    def fig_or_note(name: str, note: str = "") -> str:
        if name in core:
            return _figure_html(name, core[name], note)
        fig = opt[name]
        label = next(t for n, t, _ in OPTIONAL if n == name)
        return _missing(name, label) if fig is None else _figure_html(name, fig, note)

    sub = (
        f"Out-of-sample period {e(_generic(period.get('start')))} → "
        f"{e(_generic(period.get('end')))} ({e(_int(period.get('days')))} days)"
    )
    if conv:
        sub += (
            f" · returns {e(_generic(conv.get('returns', 'simple')))}, "
            f"{e(_generic(conv.get('periods_per_year', 365)))} periods a year, "
            f"risk-free {e(_generic(conv.get('risk_free', 0.0)))}"
        )
    banner, funding = _funding_by_leg(
        kpis.get("funding_by_leg"), (kpis.get("costs") or {}).get("unfunded_share_mean")
    )
    spread = _market_spread_table(neu.get("market_spread"))

    parts: list[str] = [
        *page_start(title, CSS, n_figures),
        "<main>",
        _stale_banner(kpis.get("freshness")),  # first: nothing below is today's
        f'<header><h1>{title}</h1><p class="sub">{sub}</p>{_latest(d)}</header>',
        book_card(d),  # the first screen: what to hold tomorrow
        headline_card(kpis),  # then the evidence: the selection-aware headline
        banner,
    ]
    fb = kpis.get("funding_by_leg")
    shown = {str(fb.get("warning"))} if isinstance(fb, dict) and fb.get("warning") else set()
    fr = kpis.get("freshness")
    shown |= {str(fr.get("note"))} if isinstance(fr, dict) and fr.get("stale") else set()
    listed = [str(w) for w in d.warnings if str(w) not in shown]  # the banner has it already
    if listed:
        items = "".join(f"<li>{e(w)}</li>" for w in listed)
        parts.append(
            f'<section class="card warnings" id="warnings"><h2>Warnings</h2><ul>{items}</ul></section>'
        )
    neutrality = _scroll(_neutrality_table(neu)) + (_scroll(spread) if spread else "")
    parts += [
        '<div class="grid">',
        _card("kpis", "Performance (out-of-sample)", _scroll(_kpi_table(kpis))),
        '<div class="stack">',
        _card("walk-forward", "Walk-forward", _scroll(_walk_forward_summary(wf))),
        _card("neutrality", "Neutrality to BTC and ETH (out-of-sample)", neutrality),
        _card("funding", "Funding by leg", _scroll(funding)) if funding else "",
        "</div></div>",
        fig_or_note("equity"),
        fig_or_note("contributions"),
        fig_or_note("regime"),
        '<div class="grid">',
        _card("monthly", "Monthly returns (compounded, net)", _scroll(monthly_table(d))),
        _card("drawdowns", "Five worst drawdowns", _scroll(drawdown_table(d))),
        "</div>",
        '<div class="grid even">',
        fig_or_note("drawdown"),
        fig_or_note("rolling"),
        "</div>",
        _card(
            "regimes",
            "By regime (always-held book, strategy Sharpe)",
            _scroll(_regime_table(d.regime_metrics, flat_regimes(d.pnl), d.levels())),
        ),
        _card("trades", "Trades: regime changes with costs", _scroll(trades_table(d), tall=True)),
        _card(
            "league",
            "League: the model against the indicators traders use (out-of-sample, net)",
            _scroll(league_table(kpis)),
        )
        if kpis.get("league")
        else "",
        fig_or_note("costs"),
    ]
    at = attribution_table(d)
    parts += [
        '<div class="grid">',
        fig_or_note("attribution"),
        _card("attribution-summary", "P&L by leg", _scroll(at)) if at else "<div></div>",
        "</div>",
    ]
    rob = robustness_tables(kpis)
    parts += [
        '<div class="grid">',
        fig_or_note("robustness"),
        _card("robustness-tables", "Robustness re-runs", rob) if rob else "<div></div>",
        "</div>",
        fig_or_note("trials"),
        fig_or_note(
            "features", "; ".join(describe_definitions(kpis.get("feature_definitions") or {}))
        ),
        fig_or_note("betas"),
        _card("folds", "Walk-forward folds", _scroll(_folds_table(wf.get("folds") or []))),
        "<footer>Self-contained page: plotly.js is embedded (compressed); nothing is fetched "
        "from the network. Long daily series are thinned for drawing only (min/max kept); "
        "every number is computed on the full series.</footer>",
        "</main>",
        *plotly_scripts(d.js_cache_dir),
        f"<script>{COUNT_SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)
