"""The sweep dashboard: one self-contained page (plotly.js embedded once, nothing fetched).

A heat map of any metric over any two swept keys chosen in the page (other keys averaged or
maximised), every point's out-of-sample Sharpe with its bootstrap interval, the sweep-level
deflated Sharpe of the best point, the entries collapsed into an earlier point (same config
hash), and the results table, sortable by clicking a header. plotly.js is embedded compressed
with the run dashboard's loader (:func:`..dashboard.page.plotly_scripts`); the charts are drawn
by the page's script once the loader has unpacked it. The page records script errors and
rendered figures in ``<body data-*>`` for the browser test.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..dashboard.page import COUNT_SCRIPT, page_start, plotly_scripts
from ..labels import num
from ..report.outputs import clean_json
from .results import METRICS
from .spec import SweepSpec

HEAT_METRICS = (
    "oos_sharpe",
    "deflated_sharpe",
    "pbo",
    "cagr",
    "max_drawdown",
    "avg_daily_turnover",
    "total_fees",
    "total_slippage",
    "neutrality_error",
    "oos_sharpe_ci_low",
)

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:1300px;margin:0 auto;padding:18px}
h1{font-size:22px;margin:4px 0}h2{font-size:16px;margin:0 0 8px}
.card{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:12px 14px;margin:12px 0}
.sub{color:#566070;margin:2px 0 8px}
label{display:inline-block;white-space:nowrap;margin:0 14px 6px 0;font-size:14px}
select{margin-left:4px;max-width:100%}
table{border-collapse:collapse;font-size:12px;width:100%}
th,td{border-bottom:1px solid #e6e9ee;padding:3px 6px;text-align:right;white-space:nowrap}
th{cursor:pointer;position:sticky;top:0;background:#eef1f5;user-select:none}
th.asc::after{content:" \\25B2"}th.desc::after{content:" \\25BC"}
td.text,th.text{text-align:left}
tr.error td{color:#a23}
.tablewrap{max-height:560px;overflow:auto}.scroll{overflow-x:auto;max-width:100%}
dl{display:grid;grid-template-columns:minmax(0,max-content) minmax(0,1fr);gap:4px 14px;margin:0}
dt{color:#566070}dd{margin:0;min-width:0;overflow-wrap:anywhere}
.note{color:#566070;font-size:12px}
#duplicates{width:auto;margin:8px 0 4px}
#fig-heat{height:460px}#fig-ci{height:380px}
h2.chart{font-size:14px;font-weight:600;margin:4px 0}
@media (max-width:600px){main{padding:10px 8px}.card{padding:10px}
  dl{grid-template-columns:minmax(0,1fr);gap:0}dt{margin-top:6px}}
"""

CHART_SCRIPT = """
(window.PLOTLY_READY = window.PLOTLY_READY || []).push(function () {
  var D = JSON.parse(document.getElementById('sweep-data').textContent);
  var col = {}; D.columns.forEach(function (c, i) { col[c] = i; });
  var ok = D.rows.filter(function (r) { return r[col.status] === 'ok'; });
  // plotly reads <a href>, <b> ... in labels as markup: a value shows as text, never a link
  function label(v) { return v === null ? 'null' : String(v).replace(/&/g, '&amp;')
    .replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;'); }
  function uniq(key) {
    var seen = {}, out = [];
    D.rows.forEach(function (r) { var v = r[col[key]]; var k = label(v);
      if (!(k in seen)) { seen[k] = v; out.push(v); } });
    out.sort(function (a, b) { return (typeof a === 'number' && typeof b === 'number') ? a - b
      : label(a) < label(b) ? -1 : label(a) > label(b) ? 1 : 0; });
    return out.map(label);
  }
  function fill(sel, opts, value) {
    sel.innerHTML = '';
    opts.forEach(function (o) { var e = document.createElement('option');
      e.value = o; e.textContent = o; sel.appendChild(e); });
    if (value !== undefined) { sel.value = value; }
  }
  var sx = document.getElementById('heat-x'), sy = document.getElementById('heat-y'),
      sm = document.getElementById('heat-metric'), sa = document.getElementById('heat-agg');
  fill(sx, D.keys, D.keys[0]);
  fill(sy, ['(none)'].concat(D.keys), D.keys.length > 1 ? D.keys[1] : '(none)');
  fill(sm, D.heat_metrics, 'oos_sharpe');
  fill(sa, ['mean', 'max', 'min']);
  function heat() {
    var xk = sx.value, yk = sy.value, m = sm.value, agg = sa.value;
    var xs = uniq(xk), ys = yk === '(none)' ? ['all'] : uniq(yk);
    var acc = ys.map(function () { return xs.map(function () { return []; }); });
    var pts = ys.map(function () { return xs.map(function () { return []; }); });
    ok.forEach(function (r) {
      var v = r[col[m]]; if (v === null) { return; }
      var i = xs.indexOf(label(r[col[xk]]));
      var j = yk === '(none)' ? 0 : ys.indexOf(label(r[col[yk]]));
      acc[j][i].push(v); pts[j][i].push(r);
    });
    var z = acc.map(function (row) { return row.map(function (a) {
      if (!a.length) { return null; }
      if (agg === 'max') { return Math.max.apply(null, a); }
      if (agg === 'min') { return Math.min.apply(null, a); }
      return a.reduce(function (s, x) { return s + x; }, 0) / a.length; }); });
    // a cell that aggregates points differing in keys not on the axes says so, in the cell
    var others = D.keys.filter(function (k) { return k !== xk && k !== yk; });
    function differ(rs) { return others.filter(function (k) { var seen = {};
      rs.forEach(function (r) { seen[label(r[col[k]])] = 1; });
      return Object.keys(seen).length > 1; }); }
    var hover = pts.map(function (row) { return row.map(function (rs) { var d = differ(rs);
      return rs.length + ' point(s)' + (d.length ? ' that differ in ' + d.join(', ') + ' (' +
        agg + ' of them)' : ''); }); });
    var cell = pts.map(function (row) { return row.map(function (rs) {
      return differ(rs).length ? agg + ' of ' + rs.length : ''; }); });
    Plotly.react('fig-heat', [{type: 'heatmap', x: xs, y: ys, z: z, text: cell,
      customdata: hover, texttemplate: '%{text}',
      colorscale: 'RdBu', reversescale: m === 'pbo' || m === 'avg_daily_turnover' ||
        m === 'total_fees' || m === 'total_slippage' || m === 'neutrality_error',
      hovertemplate: xk + ' %{x}<br>' + (yk === '(none)' ? '' : yk + ' %{y}<br>') + m +
        ' (' + agg + ') %{z:.4g}<br>%{customdata}<extra></extra>',
      colorbar: {title: {text: m}}}],
      {margin: {t: 30, l: 120, r: 30, b: 60}, height: 460,
       xaxis: {title: {text: xk}, type: 'category'},
       yaxis: {title: {text: yk === '(none)' ? '' : yk}, type: 'category'}},
      {displaylogo: false, responsive: true});
  }
  [sx, sy, sm, sa].forEach(function (s) { s.addEventListener('change', function () {
    document.getElementById('heat-title').textContent = sm.value + ' (' + sa.value +
      ' over the other keys; "' + sa.value + ' of n" in a cell: points that differ in keys ' +
      'not shown)';
    heat(); }); });
  heat();
  var pts = ok.map(function (r) { return r[col.point]; });
  var sr = ok.map(function (r) { return r[col.oos_sharpe]; });
  var hi = ok.map(function (r) { return r[col.oos_sharpe_ci_high] === null ? null : r[col.oos_sharpe_ci_high] - r[col.oos_sharpe]; });
  var lo = ok.map(function (r) { return r[col.oos_sharpe_ci_low] === null ? null : r[col.oos_sharpe] - r[col.oos_sharpe_ci_low]; });
  var hover = ok.map(function (r) { return D.keys.map(function (k) { return k + ' = ' + label(r[col[k]]); }).join('<br>'); });
  Plotly.newPlot('fig-ci', [{type: 'scatter', mode: 'markers', x: pts, y: sr, text: hover,
    error_y: {type: 'data', symmetric: false, array: hi, arrayminus: lo, thickness: 1},
    marker: {size: 8, color: ok.map(function (r) { return r[col.deflated_sharpe]; }),
      colorscale: 'Viridis', cmin: 0, cmax: 1, showscale: true, colorbar: {title: {text: 'DSR'}}},
    hovertemplate: 'point %{x}<br>Sharpe %{y:.3f}<br>%{text}<extra></extra>'}],
    {margin: {t: 30, l: 60, r: 30, b: 50}, height: 380,
     xaxis: {title: {text: 'point'}}, yaxis: {title: {text: 'annualised Sharpe'}, zeroline: true}},
    {displaylogo: false, responsive: true});
});
"""

SORT_SCRIPT = """
(function () {
  var table = document.getElementById('results'), body = table.tBodies[0];
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
    th.addEventListener('click', function () {
      var dir = th.classList.contains('asc') ? -1 : 1;
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.classList.remove('asc', 'desc'); });
      th.classList.add(dir === 1 ? 'asc' : 'desc');
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[i].dataset.v, y = b.cells[i].dataset.v;
        if (x === '' && y === '') { return 0; } if (x === '') { return 1; } if (y === '') { return -1; }
        var nx = Number(x), ny = Number(y);
        if (!isNaN(nx) && !isNaN(ny)) { return dir * (nx - ny); }
        return dir * (x < y ? -1 : x > y ? 1 : 0);
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
})();
"""

TABLE_COLUMNS = (
    "oos_sharpe",
    "oos_sharpe_ci_low",
    "oos_sharpe_ci_high",
    "deflated_sharpe",
    "pbo",
    "n_trials",
    "cagr",
    "max_drawdown",
    "avg_daily_turnover",
    "total_fees",
    "total_slippage",
    "total_funding",
    "beta_btc_realized",
    "beta_eth_realized",
    "benchmark_sharpe",
    "oos_days",
)


def e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _cell(v: Any) -> str:
    if v is None:
        return '<td data-v="">–</td>'
    if isinstance(v, float):
        return f'<td data-v="{v!r}">{v + 0.0:.4g}</td>'  # never "-0"
    if isinstance(v, bool | int):
        return f'<td data-v="{int(v)}">{v}</td>'
    return f'<td class="text" data-v="{e(v)}">{e(v)}</td>'


def _table(spec: SweepSpec, rows: list[dict[str, Any]]) -> str:
    cols = ["point", *spec.keys, "status", *TABLE_COLUMNS, "config_hash", "error"]
    head = "".join(
        f'<th class="{"text" if c in ("status", "config_hash", "error") else ""}" '
        f'title="{e(METRICS.get(c, c))}">{e(c)}</th>'
        for c in cols
    )
    body = "".join(
        f'<tr class="{e(r["status"])}">' + "".join(_cell(r.get(c)) for c in cols) + "</tr>"
        for r in rows
    )
    return f'<table id="results"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _summary(s: dict[str, Any]) -> str:
    items = [
        (
            "points",
            f"{s['n_points']} ({s['n_ok']} ok, {s['n_error']} failed, {s['n_pending']} not run)",
        ),
        ("swept keys", ", ".join(s["swept_keys"])),
    ]
    b, d = s.get("best_point"), s.get("sweep_deflated_sharpe")
    if b:
        vals = ", ".join(f"{k} = {json.dumps(v)}" for k, v in b["values"].items())
        ci = b["oos_sharpe_ci95"]
        items += [
            ("best point", f"{b['point']} ({vals})"),
            (
                "its out-of-sample Sharpe",
                f"{_num(b['oos_sharpe'])} (95% CI {_num(ci[0])} .. {_num(ci[1])}); "
                f"own deflated Sharpe {_num(b['own_deflated_sharpe'])}",
            ),
        ]
    if d:
        items.append(
            (
                "sweep-level deflated Sharpe",
                f"{_num(d['value'])} counting {d['n_trials_total']:,} trials over "
                f"{d['n_points_counted']} points (hurdle {_num(d['hurdle_annualised'])} "
                "annualised)",
            )
        )
    dups = s.get("duplicates") or []
    items.append(
        (
            "duplicate entries",
            f"{len(dups)} collapsed into an earlier point (the same configuration, or one that "
            "differs only in keys the run does not read: run once, counted once in the "
            "sweep-level deflated Sharpe)"
            if dups
            else "none: every entry of the expansion is a distinct configuration",
        )
    )
    for w in s.get("key_warnings") or []:
        items.append(("swept key", w))
    if d and d.get("n_trials_shared"):
        items.append(
            (
                "trials shared",
                f"{d['n_trials_shared']:,} trials were the same in points that differ only in "
                "what sets the composite search's trial 0: counted once",
            )
        )
    dl = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in items)
    return (
        f"<dl>{dl}</dl>{_duplicates(dups)}"
        f'<p class="note">{e(s["sweep_deflated_sharpe_method"])}</p>'
    )


def _duplicates(dups: list[dict[str, Any]]) -> str:
    """The collapsed entries of ``sweep_summary.json`` ``duplicates``: entry (position in the
    expansion), its overrides, and the point it equals."""
    if not dups:
        return ""
    rows = "".join(
        f'<tr><td data-v="{int(d["entry"])}">{int(d["entry"])}</td>'
        f'<td class="text">{e(json.dumps(d["overrides"], default=str))}</td>'
        f'<td data-v="{int(d["duplicate_of"])}">{int(d["duplicate_of"])}</td>'
        f'<td class="text">{e(d.get("why", ""))}</td></tr>'
        for d in dups
    )
    return (
        '<div class="scroll"><table id="duplicates"><thead><tr><th>entry</th>'
        '<th class="text">overrides</th><th>same configuration as point</th>'
        '<th class="text">why</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )


def _num(x: Any) -> str:
    return "–" if x is None else num(x, 3)  # never "-0.000"


def sweep_dashboard_html(
    spec: SweepSpec, t: pa.Table, summary: dict[str, Any], js_cache_dir: Path | None = None
) -> str:
    """The page; ``js_cache_dir`` (the output root's ``cache/``) keeps the compressed plotly.js
    between runs, as for the run's dashboard."""
    rows = t.to_pylist()
    data = clean_json(
        {
            "columns": t.column_names,
            "rows": [[r[c] for c in t.column_names] for r in rows],
            "keys": list(spec.keys),
            "heat_metrics": list(HEAT_METRICS),
        }
    )
    blob = json.dumps(data, allow_nan=False).replace("</", "<\\/")
    title = f"Sweep {e(spec.source.name)}: {len(spec.points)} points"
    return "\n".join(
        [
            *page_start(title, CSS, 2),
            "<main>",
            f'<header><h1>{title}</h1><p class="sub">base config {e(spec.base_config.name)}, '
            f"sweep hash {e(summary['sweep_hash'])}</p></header>",
            f'<section class="card" id="summary"><h2>Summary</h2>{_summary(summary)}</section>',
            '<section class="card" id="heat"><h2>Heat map</h2>'
            '<label>x <select id="heat-x"></select></label>'
            '<label>y <select id="heat-y"></select></label>'
            '<label>metric <select id="heat-metric"></select></label>'
            '<label>over the other keys <select id="heat-agg"></select></label>'
            '<h2 class="chart" id="heat-title">oos_sharpe (mean over the other keys; "mean of n" in '
            "a cell: points that differ in keys not shown)</h2>"
            '<div id="fig-heat" class="figure plot"></div></section>',
            '<section class="card" id="ci"><h2 class="chart">Out-of-sample Sharpe and 95% '
            "bootstrap interval per point (colour: own DSR)</h2>"
            '<div id="fig-ci" class="figure plot"></div></section>',
            '<section class="card" id="table"><h2>Points (click a header to sort)</h2>'
            f'<div class="tablewrap scroll">{_table(spec, rows)}</div></section>',
            '<footer class="note">Self-contained page: plotly.js is embedded (compressed); '
            "nothing is fetched from the network.</footer>",
            "</main>",
            f'<script type="application/json" id="sweep-data">{blob}</script>',
            f"<script>{SORT_SCRIPT}</script>",
            f"<script>{CHART_SCRIPT}</script>",
            *plotly_scripts(js_cache_dir, template=False),
            f"<script>{COUNT_SCRIPT}</script>",
            "</body></html>",
        ]
    )
