"""Hostile and broken input is rejected at the gate: bounded time, a clear reason, never a traceback, never Saxon."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from validators import runtime
from validators.xmlsafe import Limits, ValidationInputError, has_doctype, parse_untrusted

SECONDS = 5.0  # "bounded time": every hostile document is refused well within this

UBL_HEAD = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
            b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" '
            b'xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">'
            b'<cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0'
            b'</cbc:CustomizationID>')

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>"""


def _xxe_file() -> bytes:
    return (b'<?xml version="1.0"?><!DOCTYPE Invoice [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            + UBL_HEAD[UBL_HEAD.index(b"<Invoice"):] + b"<cbc:ID>&xxe;</cbc:ID></Invoice>")


HOSTILE = {
    "empty": (b"", "xml-empty"),
    "only-whitespace": (b"  \n\t \r\n", "xml-empty"),
    "binary-not-xml": (bytes(range(256)) * 64, "xml-not-wellformed"),
    # a PDF is a hybrid invoice (validators.pdf); this one is broken (no trailer)
    "broken-pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "pdf-unreadable"),
    "plain-text": (b"Rechnung Nr. 4711 ueber 12,50 EUR", "xml-not-wellformed"),
    "truncated": (UBL_HEAD + b"<cbc:ID>4711</cbc:I", "xml-not-wellformed"),
    "two-roots": (b"<a/><b/>", "xml-not-wellformed"),
    "undeclared-entity": (b"<a>&nbsp;</a>", "xml-not-wellformed"),
    "xxe-file": (_xxe_file(), "xml-doctype-forbidden"),
    "xxe-parameter-entity": (b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><a/>',
                             "xml-doctype-forbidden"),
    "external-dtd": (b'<!DOCTYPE Invoice SYSTEM "http://127.0.0.1:9/x.dtd"><Invoice/>', "xml-doctype-forbidden"),
    "billion-laughs": (BILLION_LAUGHS, "xml-doctype-forbidden"),
    "quadratic-blowup": (b'<!DOCTYPE a [<!ENTITY x "' + b"x" * 100_000 + b'">]><a>' + b"&x;" * 100_000 + b"</a>",
                         "xml-doctype-forbidden"),
    "doctype-after-comment-and-pi": (b'<?xml version="1.0"?><!-- c --><?pi x?>\n<!DOCTYPE a []><a/>',
                                     "xml-doctype-forbidden"),
    "billion-laughs-behind-a-long-prolog": (b'<?xml version="1.0"?><!--' + b"x" * 300_000 + b"-->"
                                            + BILLION_LAUGHS[BILLION_LAUGHS.index(b"<!DOCTYPE"):],
                                            "xml-doctype-forbidden"),
    "doctype-utf16": ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>'
                      .encode("utf-16"), "xml-doctype-forbidden"),
    "absurd-nesting": (b"<a>" * 200_000 + b"</a>" * 200_000, "xml-too-deep"),
    "absurd-nesting-unclosed": (b"<a>" * 1_000_000, "xml-too-deep"),
}


@pytest.fixture()
def saxon_must_not_be_called(monkeypatch):
    """Any attempt to hand the document to Saxon fails the test."""
    calls = []

    def forbidden(text):
        calls.append(text[:80])
        raise AssertionError("Saxon was given a document the gate should have refused")

    monkeypatch.setattr(runtime, "parse_xdm", forbidden)
    return calls


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_is_rejected_quickly_with_a_reason(name, validator, saxon_must_not_be_called):
    data, code = HOSTILE[name]
    started = time.perf_counter()
    result = validator.validate(data, name)
    elapsed = time.perf_counter() - started
    assert result.verdict == "reject"
    assert result.reason == code, result.messages
    assert result.scenario is None
    assert [m.code for m in result.errors] == [code]
    assert result.errors[0].text  # a sentence, not an empty string
    assert elapsed < SECONDS, f"{name} took {elapsed:.1f}s"
    assert saxon_must_not_be_called == []
    assert b"noScenarioMatched" in result.report_xml()


def test_too_large_is_refused_before_parsing(validator, saxon_must_not_be_called):
    big = UBL_HEAD + b"<cbc:Note>" + b"x" * (validator.limits.max_bytes + 1) + b"</cbc:Note></Invoice>"
    started = time.perf_counter()
    result = validator.validate(big, "big.xml")
    assert (result.verdict, result.reason) == ("reject", "xml-too-large")
    assert time.perf_counter() - started < SECONDS


def test_limits_are_configurable():
    with pytest.raises(ValidationInputError) as exc:
        parse_untrusted(b"<a>" + b"x" * 2000 + b"</a>", Limits(max_bytes=1000))
    assert exc.value.code == "xml-too-large"
    with pytest.raises(ValidationInputError) as exc:
        parse_untrusted(b"<a><b><c><d/></c></b></a>", Limits(max_depth=3))
    assert exc.value.code == "xml-too-deep"
    assert parse_untrusted(b"<a><b><c/></b></a>", Limits(max_depth=3)).getroot().tag == "a"


def test_a_large_base64_attachment_passes_the_gate():
    """libxml2 refuses text nodes above 10 MB unless told otherwise; a real invoice may carry such an attachment."""
    data = UBL_HEAD + b"<cbc:EmbeddedDocumentBinaryObject>" + b"QUJD" * 3_000_000 + b"</cbc:EmbeddedDocumentBinaryObject></Invoice>"
    assert len(data) > 10 * 1024 * 1024
    tree = parse_untrusted(data)
    assert len(tree.getroot()[-1].text) == 12_000_000


def test_not_wellformed_reports_line_and_column(validator):
    result = validator.validate(b"<a>\n<b>\n</a>", "bad.xml")
    assert result.reason == "xml-not-wellformed"
    assert result.errors[0].line == 3


def test_doctype_text_inside_content_is_not_mistaken_for_a_declaration():
    data = UBL_HEAD + b"<cbc:Note><![CDATA[<!DOCTYPE html>]]> &lt;!DOCTYPE x&gt;</cbc:Note></Invoice>"
    assert not has_doctype(data)
    assert parse_untrusted(data).getroot() is not None


def test_no_network_access_for_an_external_dtd(monkeypatch):
    """Even when the prolog scan is bypassed, the parser itself never fetches anything."""
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server API)
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'<!ENTITY e "from the network">')

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/evil.dtd"
        data = f'<!DOCTYPE a SYSTEM "{url}"><a>&e;</a>'.encode()
        monkeypatch.setattr("validators.xmlsafe.has_doctype", lambda _data: False)
        with pytest.raises(ValidationInputError) as exc:
            parse_untrusted(data)
        assert exc.value.code in ("xml-not-wellformed", "xml-doctype-forbidden")
        data = f'<!DOCTYPE a [<!ENTITY e SYSTEM "{url}">]><a>&e;</a>'.encode()
        with pytest.raises(ValidationInputError):
            parse_untrusted(data)
    finally:
        server.shutdown()
        server.server_close()
    assert hits == []
