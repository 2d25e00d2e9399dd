"""The self-contained HTML report: one file, figures inlined as base64 PNG, no external assets.

Renders a `brixcheck.benchmark/v1alpha3` document plus figures; it adds no numbers of its own.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from brixcheck.report.leaderboard import difference_text, value_text

STYLE = """
body{font-family:system-ui,sans-serif;margin:1rem 1.5rem;color:#222;max-width:1400px}
h1{margin-bottom:.2rem} h2{border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}
th:first-child,td:first-child{text-align:left} th{background:#f3f3f3}
.banner{padding:1rem;font-size:1.2rem;font-weight:bold;border-radius:4px;margin:1rem 0}
.banner.INVALID{background:#c62828;color:#fff} .banner.PARTIAL{background:#f9a825;color:#000}
.banner.VALID{background:#2e7d32;color:#fff}
.banner.saturated{background:#e3f2fd;color:#000;font-size:1rem}
figure{margin:1rem 0} figure img{max-width:100%;border:1px solid #eee}
pre{background:#f6f6f6;padding:.75rem;overflow:auto;font-size:.8rem}
dt{font-weight:bold;margin-top:.5rem} dd{margin-left:1rem}
#leaderboard{font-size:.75rem;border-bottom:4px solid #1565c0}
#leaderboard td,#leaderboard th{vertical-align:top;padding:.15rem .3rem}
#leaderboard td{white-space:nowrap} #leaderboard caption{text-align:left}
#leaderboard th small{font-weight:normal;color:#555}
#leaderboard td.best{background:#e8f5e9;font-weight:bold}
#leaderboard td .diff{display:block;font-size:.65rem;font-weight:normal;white-space:nowrap}
#leaderboard td .lower{color:#1b5e20} #leaderboard td .higher{color:#b71c1c}
#leaderboard tr.baseline td:first-child{font-style:italic}
.banner.compact{padding:.4rem .8rem;font-size:1rem;margin:.4rem 0}
"""


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    if isinstance(value, list):
        return escape("; ".join(map(str, value)))
    return escape(str(value))


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None,
          table_id: str = "") -> str:
    """An HTML table of rows (dicts), one column per key.

    Args:
        rows: the rows.
        columns: which keys, in order (default: the first row's keys).
        table_id: the table's id attribute.

    Returns:
        HTML; a paragraph saying "none" when there are no rows.
    """
    if not rows:
        return "<p>none</p>"
    columns = list(columns or rows[0].keys())
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r.get(c))}</td>" for c in columns) + "</tr>"
                   for r in rows)
    ident = f' id="{escape(table_id)}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def transposed_table(rows: Sequence[Mapping[str, Any]], label: str = "group",
                     table_id: str = "") -> str:
    """Metrics as rows and groups as columns (readable with many metrics).

    Args:
        rows: one dict per group.
        label: the key naming each group.
        table_id: the table's id attribute.

    Returns:
        HTML.
    """
    if not rows:
        return "<p>none</p>"
    metrics = [k for k in rows[0] if k != label]
    flipped = [{"metric": m, **{str(r[label]): r.get(m) for r in rows}} for m in metrics]
    return table(flipped, ["metric", *[str(r[label]) for r in rows]], table_id)


def image(title: str, png: bytes) -> str:
    """A figure with the PNG inlined as a base64 data URI.

    Args:
        title: the caption.
        png: PNG bytes.

    Returns:
        HTML.
    """
    data = base64.b64encode(png).decode()
    return (f'<figure><img alt="{escape(title)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{escape(title)}</figcaption></figure>")


def _saturation(doc: Mapping[str, Any]) -> str:
    saturated = doc["validity"].get("saturated") or []
    if not saturated:
        return ""
    items = "".join(f"<li>{escape(r)}</li>" for r in saturated)
    return (f'<div class="banner saturated" id="saturation">Rate sweep: levels past what the '
            f"target sustains (the sweep stops at the first one)<ul>{items}</ul></div>")


def _banner(doc: Mapping[str, Any]) -> str:
    status = doc["status"]
    if status == "VALID":
        return '<div class="banner VALID compact">VALID run</div>' + _saturation(doc)
    reasons = list(doc["validity"]["reasons"])
    if doc["partial"]["partial"]:
        reasons.append(f"partial: {doc['partial']['reason']}")
    items = "".join(f"<li>{escape(r)}</li>" for r in reasons)
    return (f'<div class="banner {escape(status)}" id="status-banner">{escape(status)} run: '
            f"do not compare its numbers as a normal run<ul>{items}</ul></div>") + _saturation(doc)


ARROWS = {"lower": "↓", "higher": "↑"}


def _leader_cell(row: Mapping[str, Any], column: Mapping[str, Any], baseline: str) -> str:
    text = escape(value_text(row["values"][column["key"]], column["digits"]))
    best = column["key"] in row["best"]
    if best:
        text = "★ " + text
    diff = row["versusBaseline"].get(column["key"])
    if diff and diff["significant"]:
        way = "lower" if diff["high"] < 0 else "higher"
        words = difference_text(diff, column["digits"])
        text += (f'<span class="diff {way}" title="{escape(column["unit"])} vs '
                 f'{escape(baseline)}">{escape(words)}</span>')
    return f'<td class="best">{text}</td>' if best else f"<td>{text}</td>"


def leaderboard_table(board: Mapping[str, Any]) -> str:
    """The first-screen table: a row per strategy, units in the heads, best values starred,
    significant differences from the baseline under their value with the CI.

    Args:
        board: the document's `leaderboard`.

    Returns:
        HTML (a paragraph when there are no rows).
    """
    if not board["rows"]:
        return "<p>no strategy ran</p>"
    columns = board["columns"]
    head = "<th>strategy</th>" + "".join(
        f"<th>{escape(c['heading'])}<br><small>{escape(c['unit'])} "
        f"{ARROWS[c['better']]}</small></th>" for c in columns)
    body = []
    for row in board["rows"]:
        name = escape(row["strategy"]) + (" (baseline)" if row["baseline"] else "")
        name += f"<br><small>{escape(row['within'])}</small>" if row["within"] else ""
        cells = "".join(_leader_cell(row, c, board["baseline"]) for c in columns)
        kind = ' class="baseline"' if row["baseline"] else ""
        body.append(f"<tr{kind}><td>{name}</td>{cells}</tr>")
    caption = (f"<b>Strategies ranked by goodput against the {escape(board['slo'])} SLOs, "
               "then TTFT p50</b> (means over repeats). ↓ lower is better, ↑ higher is better, "
               "★ best of its column. Under a value: its difference from the baseline "
               f"<b>{escape(board['baseline'])}</b> with the 95% CI (paired by request, "
               "bootstrap), shown only where the CI excludes zero.")
    return (f'<table id="leaderboard"><caption>{caption}</caption><thead><tr>{head}</tr>'
            f"</thead><tbody>{''.join(body)}</tbody></table>")


def _formulas(formulas: Mapping[str, str]) -> str:
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in formulas.items())
    return f"<dl>{items}</dl>"


def render_html(doc: Mapping[str, Any], figures: Sequence[tuple[str, bytes]]) -> str:
    """The whole report page.

    Args:
        doc: the benchmark document (`document.benchmark_document`).
        figures: (caption, PNG bytes) pairs, in display order.

    Returns:
        One self-contained HTML page.
    """
    env = [{"key": k, "value": v} for k, v in doc["environment"].items()]
    env.append({"key": "fingerprint", "value": doc["fingerprint"]})
    comparisons = "".join(f"<li>{escape(c['statement'])}</li>" for c in doc["comparisons"])
    sections = [
        f"<h1>brixcheck benchmark {escape(doc['runId'])}</h1>",
        f"<p>started {escape(doc['startedAt'])} · generated {escape(doc['generatedAt'])} · "
        f"schema {escape(doc['schemaVersion'])} · brixcheck {escape(doc['tool']['version'])}</p>",
        _banner(doc),
        leaderboard_table(doc["leaderboard"]),
        "<h2>Figures</h2>", *[image(title, png) for title, png in figures],
        "<h2>Environment</h2>", table(env, ["key", "value"], "environment"),
        "<h2>Strategy comparison (paired by request)</h2>",
        f"<ul id=\"comparisons\">{comparisons or '<li>none</li>'}</ul>",
        "<h2>All summary metrics</h2>", transposed_table(doc["summary"], table_id="summary"),
        "<h2>Errors</h2>", table(doc["errors"], table_id="errors"),
        "<h2>Per-pod balance</h2>", table(doc["pods"], table_id="pods"),
        "<h2>Engine telemetry per pod (measured window)</h2>",
        table(doc["enginePods"], table_id="engine-pods"),
        "<h2>GPU telemetry (NVML on the benchmark host)</h2>",
        table(doc["gpus"], table_id="gpus"),
        "<h2>Run configuration</h2>",
        f"<pre>{escape(json.dumps(doc['config'], indent=2))}</pre>",
        "<h2>Metric formulas</h2>", _formulas(doc["formulas"]),
    ]
    body = "\n".join(sections)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>brixcheck benchmark {escape(doc['runId'])} ({escape(doc['status'])})</title>"
            f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n")
