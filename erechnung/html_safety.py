"""The Content-Security-Policy of every HTML page the project writes, as one ``<meta>`` element (issue 10).

Reports and the invoice view show values from documents and department files, which may be hostile. Escaping
keeps those values out of the markup; the policy is the browser's second line: a page may load nothing
(``default-src 'none'``), send no form and set no base URL. Each page carries its CSS inline; only the invoice
view (``erechnung show``) runs script, the official viewer's own, inline.

==================  ===============================================================================
policy              for
==================  ===============================================================================
``REPORT_POLICY``   validation report and run summary (validators/report.py), run report
                    (pipeline/run.py), intake error report, delivery batch report, clarification list
                    (payments/clarification.py): inline CSS only
``VIEWER_POLICY``   the invoice view (view.py): inline CSS and script, attachments as data/blob URLs
==================  ===============================================================================

``csp_meta(policy)`` is the element for pages built as lxml trees, ``csp_meta_html(policy)`` the same element as
text for pages built as strings; it belongs right after ``<meta charset>``, before anything it covers. This
module imports nothing of the project, so every layer (validators, intake, pipeline, delivery, view) can use it.
"""
from __future__ import annotations

from lxml.html import HtmlElement
from lxml.html import builder as E
from lxml.html import tostring

#: reports: inline CSS, nothing else (no script, no request of any kind)
REPORT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; base-uri 'none'"
#: the invoice view: inline CSS and the viewer's inline script; attachments opened as data/blob URLs
VIEWER_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
                 "img-src data: blob:; form-action 'none'; base-uri 'none'")


def csp_meta(policy: str = REPORT_POLICY) -> HtmlElement:
    """``<meta http-equiv="Content-Security-Policy" content="...">`` as an lxml element."""
    return E.META(**{"http-equiv": "Content-Security-Policy", "content": policy})


def csp_meta_html(policy: str = REPORT_POLICY) -> str:
    """The same element as HTML text, for pages written as strings."""
    return tostring(csp_meta(policy), encoding="unicode", method="html")


def table_page(title: str, summary: str, when: str, headers: tuple[str, ...], rows: list[str], style: str) -> bytes:
    """A German report page of one table under the report policy (error reports, the clarification list):
    ``title``, ``summary`` and ``when`` are escaped here; ``rows`` are ``<tr>`` elements the caller escaped."""
    from html import escape as e

    page = f"""<!DOCTYPE html>
<html lang="de">
<head><meta charset="utf-8">{csp_meta_html()}<title>{e(title)}</title><style>{style}</style></head>
<body>
<h1>{e(title)}</h1>
<p class="summary">{e(summary)} Erstellt am {e(when)}.</p>
<table>
<thead><tr>{''.join(f'<th>{e(h)}</th>' for h in headers)}</tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
</body>
</html>
"""
    return page.encode("utf-8")
