"""The engine API other parts code against, and its promises: no accept after a crash, lazy Saxon, spawn-safe."""
from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from erechnung import artifacts
from validators import runtime
from validators.engine import ValidationResult, Validator, validate_file
from validators.steps import Message, SchematronStep, XmlSchemaStep

ACCEPTED_CII = "cases/xrechnung-testsuite/src/test/business-cases/standard/01.01a-INVOICE_uncefact.xml"
ACCEPTED_UBL = "cases/xrechnung-testsuite/src/test/business-cases/standard/01.02a-INVOICE_ubl.xml"
XSD_INVALID = "cases/validator-configuration-xrechnung/src/test/instances/ubl005.xml"
REJECTED = "cases/validator-configuration-xrechnung/src/test/instances/ubl004.xml"


def _data(path: str) -> bytes:
    return (artifacts.cases_dir() / path.removeprefix("cases/")).read_bytes()


def test_for_bundle_none_is_the_newest_installed_bundle(validator):
    assert validator.bundles == [artifacts.bundle_in_force().name]
    result = validator.validate(_data(ACCEPTED_UBL), "x.xml")
    assert result.bundle == artifacts.bundles()[-1].name


def test_result_shape(validator):
    result = validator.validate(_data(REJECTED), "ubl004.xml")
    assert isinstance(result, ValidationResult)
    assert (result.name, result.verdict, result.reason) == ("ubl004.xml", "reject", "invalid")
    assert result.scenario == "EN16931 XRechnung (UBL Invoice)"
    assert all(isinstance(m, Message) for m in result.messages)
    assert [m.code for m in result.errors] == ["BR-DE-3"]
    err = result.errors[0]
    assert (err.level, err.custom_level, err.step) == ("error", "error", "val-sch.2")
    assert err.location.startswith("/") and err.line and err.text.startswith("[BR-DE-3]")
    assert dict(result.document)["id"] == "12115118"
    assert result.report_xml().startswith(b"<?xml")
    d = result.to_json_dict()
    json.dumps(d)
    assert d["verdict"] == "reject" and d["errors"][0]["rule"] == "BR-DE-3"
    assert {"rule", "message", "location"} <= set(d["errors"][0])


def test_results_survive_pickling_for_worker_processes(validator):
    result = validator.validate(_data(ACCEPTED_CII), "a.xml")
    again = pickle.loads(pickle.dumps(result))
    assert again == result and again.report_xml() == result.report_xml()


def test_accepted_documents_have_no_error(validator):
    for path in (ACCEPTED_CII, ACCEPTED_UBL):
        result = validator.validate(_data(path), path)
        assert (result.verdict, result.reason, result.errors) == ("accept", "accepted", ())


def test_schematron_is_skipped_when_the_schema_fails_and_the_document_is_rejected(validator):
    """KoSIT SchematronValidationAction.isSkipped: no Schematron on a schema-invalid document."""
    result = validator.validate(_data(XSD_INVALID), "ubl005.xml")
    assert result.verdict == "reject"
    status = {s.id: s.status for s in result.steps}
    assert status["val-xsd"] == "ran" and status["val-sch.1"] == status["val-sch.2"] == "skipped"
    assert result.errors[0].code.startswith("cvc-") and result.errors[0].line == 15


def test_a_crashing_step_rejects_with_internal_error_never_a_traceback(monkeypatch, validator):
    def boom(self, document):
        raise RuntimeError("simulated Saxon failure")

    monkeypatch.setattr(SchematronStep, "run", boom)
    result = validator.validate(_data(ACCEPTED_UBL), "a.xml")
    assert (result.verdict, result.reason) == ("reject", "internal-error")
    assert "simulated Saxon failure" in result.errors[0].text
    assert any(s.status == "crashed" for s in result.steps)
    assert b"internal-error" in result.report_xml()


def test_a_crash_anywhere_in_the_engine_is_a_reject(monkeypatch, validator):
    monkeypatch.setattr(XmlSchemaStep, "run", lambda self, d: 1 / 0)
    assert validator.validate(_data(ACCEPTED_UBL), "a.xml").reason == "internal-error"
    monkeypatch.setattr("validators.engine.build_report", lambda **kw: 1 / 0)
    result = validator.validate(_data(ACCEPTED_UBL), "a.xml")
    assert (result.verdict, result.reason) == ("reject", "internal-error")


def test_a_failing_accept_match_evaluation_is_a_reject(monkeypatch, validator):
    def broken(scenario, report):
        raise RuntimeError("XPath failed")

    monkeypatch.setattr("validators.engine.accept_match", broken)
    result = validator.validate(_data(ACCEPTED_UBL), "a.xml")
    assert (result.verdict, result.reason) == ("reject", "internal-error")


def test_bundle_auto_picks_the_bundle_in_force_on_the_issue_date(validator):
    auto = Validator.for_bundle("auto")
    result = auto.validate(_data(ACCEPTED_UBL), "a.xml")
    issue = dict(result.document)["issueDate"]
    assert result.bundle == artifacts.bundle_in_force(__import__("datetime").date.fromisoformat(issue)).name
    assert result.verdict == "accept"
    assert validator.validate(_data(ACCEPTED_UBL), "a.xml", bundle="auto").bundle == result.bundle


def test_a_bundle_can_be_named_or_given_as_a_folder(bundle):
    by_name = Validator.for_bundle(bundle.name)
    by_folder = Validator.for_bundle(bundle.directory)
    assert by_name.bundles == [bundle.name] and by_folder.bundles == [bundle.directory.name]
    with pytest.raises(ValueError, match="not installed"):
        Validator.for_bundle("xrechnung-9.9.9")


def test_validate_file(tmp_path):
    target = tmp_path / "invoice.xml"
    target.write_bytes(_data(ACCEPTED_CII))
    result = validate_file(target)
    assert (result.name, result.verdict) == (str(target), "accept")


def test_importing_and_building_a_validator_does_not_start_saxon():
    """Saxon must be created lazily in the process that uses it (never before a fork)."""
    code = ("import validators.engine as e, validators.runtime as r; v = e.Validator.for_bundle(); "
            "print(r._STATE is None or r._STATE.saxon is None)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def _validate_in_child(path: str) -> tuple[str, str | None, tuple[str, ...]]:
    result = Validator.for_bundle().validate(Path(path).read_bytes(), path)
    return result.verdict, result.scenario, tuple(m.code for m in result.errors)


def test_validators_work_in_spawned_worker_processes(validator):
    path = str(artifacts.cases_dir() / REJECTED.removeprefix("cases/"))
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        child = pool.apply(_validate_in_child, (path,))
    here = validator.validate(Path(path).read_bytes(), path)
    assert child == (here.verdict, here.scenario, tuple(m.code for m in here.errors))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
def test_a_forked_child_gets_a_clear_error_instead_of_a_broken_saxon(validator):
    validator.validate(_data(ACCEPTED_UBL), "warm.xml")  # this process now holds Saxon
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: must not touch Saxon; report what happens and leave without cleanup handlers
        os.close(read)
        try:
            runtime.saxon()
            os.write(write, b"no error")
        except runtime.ForkedRuntimeError:
            os.write(write, b"ForkedRuntimeError")
        except BaseException as exc:  # pragma: no cover - reported to the parent
            os.write(write, repr(exc).encode())
        os._exit(0)
    os.close(write)
    answer = os.read(read, 200)
    os.close(read)
    os.waitpid(pid, 0)
    assert answer == b"ForkedRuntimeError"


@pytest.mark.parametrize("location, line", [
    ("/Q{u}a[1]/Q{u}b[1]/Q{u}c[1]", 3),                                   # SchXslt form
    ("/*:a[namespace-uri()='u'][1]/*:b[namespace-uri()='u'][2]", 4),      # ISO skeleton form
    ("/Q{u}a[1]/Q{u}b[1]/Q{u}c[1]/@x", 3),                                # attribute: its element's line
    ("/Q{u}a[1]/Q{u}b[1]/text()[1]", 2),
    ("/Q{u}a[1]/Q{u}b[3]", None),                                         # no such element
    ("not a path", None),
])
def test_svrl_locations_resolve_to_source_lines(location, line):
    from lxml import etree

    from validators.steps import line_of

    tree = etree.fromstring(b'<a xmlns="u">\n<b>\n<c x="1">t</c></b>\n<b/></a>').getroottree()
    assert line_of(tree, location) == line


def test_a_saxon_parse_failure_is_an_internal_error_not_no_scenario(monkeypatch, validator):
    def broken(text):
        raise RuntimeError("Saxon could not build the tree")

    monkeypatch.setattr(runtime, "parse_xdm", broken)
    result = validator.validate(_data(ACCEPTED_UBL), "a.xml")
    assert (result.verdict, result.reason) == ("reject", "internal-error")


def _fingerprint(result):
    return (result.verdict, result.reason, result.scenario, result.document,
            [(m.code, m.level, m.text, m.location, m.line) for m in result.messages])


def test_the_result_does_not_depend_on_the_documents_encoding(validator):
    """Saxon reads a UTF-8 document's own text and anything else as lxml read it; both give the same results."""
    text = _data(REJECTED).decode("utf-8").split("?>", 1)[1].replace("De Koksmaat", "Müller &amp; Söhne")
    utf8 = validator.validate(('<?xml version="1.0" encoding="UTF-8"?>' + text).encode("utf-8"), "utf8.xml")
    assert dict(utf8.document)["seller"] == "Müller & Söhne"
    for name, data in [("bom", b"\xef\xbb\xbf" + ('<?xml version="1.0"?>' + text).encode("utf-8")),
                       ("no-declaration", text.encode("utf-8")),
                       ("latin1", ('<?xml version="1.0" encoding="ISO-8859-1"?>' + text).encode("latin-1")),
                       ("utf16", ('<?xml version="1.0" encoding="UTF-16"?>' + text).encode("utf-16"))]:
        assert _fingerprint(validator.validate(data, name)) == _fingerprint(utf8), name
