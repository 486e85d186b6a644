"""The printable HTML report: one self-contained page (inline CSS, no scripts), every value escaped.

Evidence and request/response excerpts mark the matching part between ``[[`` and ``]]``; it is shown
highlighted, and everything else in them is escaped text.
"""

from __future__ import annotations

from collections.abc import Sequence

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup, escape

from spyglass.scanner.contract import SEVERITIES
from spyglass.scanner.reports import ReportItem, ReportMeta, ordered, severity_counts

MARK_START, MARK_END = "[[", "]]"
# Kept in the module (not a template file) so the report renders from any install of the package.
TEMPLATE = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Security report for {{ meta.target }}</title>
<style>
  body { font: 14px/1.5 system-ui, sans-serif; color: #1b1b1b; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; }
  h1 { font-size: 1.6rem; margin-bottom: .25rem; }
  table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
  th, td { border: 1px solid #bbb; padding: .3rem .5rem; text-align: left; vertical-align: top; }
  th { background: #eee; }
  .finding { border: 1px solid #bbb; border-left-width: .5rem; padding: .5rem 1rem; margin: 1rem 0;
             break-inside: avoid; }
  .critical { border-left-color: #7a0000; } .high { border-left-color: #b00020; }
  .medium { border-left-color: #b35c00; }
  .low { border-left-color: #1f5fa8; } .info { border-left-color: #555; }
  pre { white-space: pre-wrap; word-break: break-all; background: #f5f5f5; padding: .5rem; font-size: 12px; }
  mark { background: #ffe066; color: #000; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: .5rem 0; }
  dt { font-weight: 600; }
  @media print { body { margin: 0; max-width: none; } a { color: inherit; text-decoration: none; } }
</style>
</head>
<body>
<header>
  <h1>Security report for {{ meta.target }}</h1>
  <p>Spyglass {{ meta.tool_version }}{% if meta.scan_id is not none %}, scan #{{ meta.scan_id }}{% endif %},
  {{ meta.profile }} profile
  {%- if meta.started_at %}, started {{ meta.started_at.strftime("%Y-%m-%d %H:%M UTC") }}{% endif %}
  {% if meta.finished_at %}, finished {{ meta.finished_at.strftime("%Y-%m-%d %H:%M UTC") }}{% endif %}.</p>
  <p>Risk score: <strong>{{ meta.risk_score }}</strong> / 100. Pages crawled: {{ meta.pages_crawled }}.
  Requests sent: {{ meta.requests_sent }}.
  {%- if meta.stopped_reason %} The scan stopped early ({{ meta.stopped_reason }}).{% endif %}</p>
</header>
<section>
  <h2>Summary</h2>
  <table>
    <thead><tr>{% for severity in severities %}<th scope="col">{{ severity|capitalize }}</th>{% endfor %}</tr></thead>
    <tbody><tr>{% for severity in severities %}<td>{{ counts[severity] }}</td>{% endfor %}</tr></tbody>
  </table>
</section>
<section>
  <h2>Findings ({{ items|length }})</h2>
  {% if not items %}<p>No findings.</p>{% endif %}
  {% for item in items %}
  <article class="finding {{ item.type.severity }}">
    <h3>{{ loop.index }}. {{ item.type.title }}</h3>
    <dl>
      <dt>Priority</dt><dd>{{ item.priority }}{% if item.threat_class %} ({{ item.threat_class }}){% endif %}</dd>
      <dt>Severity</dt><dd>{{ item.type.severity }} ({{ item.finding.confidence }} confidence)</dd>
      <dt>Status</dt><dd>{{ item.status|replace("_", " ") }}</dd>
      <dt>URL</dt><dd>{{ item.finding.method }} {{ item.finding.url }}</dd>
      {% if item.finding.parameter %}<dt>Parameter</dt><dd>{{ item.finding.parameter }}</dd>{% endif %}
      {% if item.finding.payload %}<dt>Payload</dt><dd><code>{{ item.finding.payload }}</code></dd>{% endif %}
      {% if item.type.cwe %}<dt>CWE</dt><dd>CWE-{{ item.type.cwe }}</dd>{% endif %}
      {% if item.type.owasp %}<dt>OWASP</dt><dd>{{ item.type.owasp }}</dd>{% endif %}
      {% if item.type.cvss_vector %}
      <dt>CVSS 3.1</dt><dd>{{ item.type.cvss_score }} <code>{{ item.type.cvss_vector }}</code></dd>
      {% endif %}
    </dl>
    {% if item.finding.evidence %}<h4>Evidence</h4><pre>{{ item.finding.evidence|highlight }}</pre>{% endif %}
    {% if item.finding.request %}<h4>Request</h4><pre>{{ item.finding.request|highlight }}</pre>{% endif %}
    {% if item.finding.response %}<h4>Response</h4><pre>{{ item.finding.response|highlight }}</pre>{% endif %}
    {% if item.type.description %}<h4>What it means</h4><p>{{ item.type.description }}</p>{% endif %}
    {% if item.type.remediation %}<h4>How to fix it</h4><p>{{ item.type.remediation }}</p>{% endif %}
    {% if item.type.references %}
    <h4>References</h4><ul>{% for ref in item.type.references %}<li>{{ ref }}</li>{% endfor %}</ul>
    {% endif %}
  </article>
  {% endfor %}
</section>
</body>
</html>
"""


def highlight(text: str | None) -> Markup:
    """Escape ``text`` and wrap each ``[[...]]`` part in ``<mark>``."""
    result = Markup("")
    rest = text or ""
    while MARK_START in rest:
        before, _, tail = rest.partition(MARK_START)
        marked, found, after = tail.partition(MARK_END)
        if not found:
            break
        result += escape(before) + Markup("<mark>{}</mark>").format(marked)
        rest = after
    return result + escape(rest)


_environment = Environment(
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.filters["highlight"] = highlight


def render_html(items: Sequence[ReportItem], meta: ReportMeta) -> str:
    """The report as a standalone, printable HTML page."""
    template = _environment.from_string(TEMPLATE)
    return template.render(meta=meta, items=ordered(items), counts=severity_counts(items), severities=SEVERITIES)
