"""``erechnung notice ...``: render a notice from its JSON (and seal it), verify a sealed notice.

``erechnung notice render NOTICE.json -o OUT.pdf [--seal P12 --seal-password-file F] [--no-claim]``
``erechnung notice verify SEALED.pdf --trust ROOT.pem``

Exit codes as the other commands: 0 done (verify: every seal intact, valid and trusted), 1 the notice or the seal
is wrong, 2 usage (a file missing or unreadable). The seal's password comes from a file or the environment
(``ERECHNUNG_SEAL_PASSWORD_FILE`` / ``ERECHNUNG_SEAL_PASSWORD``), never from the command line.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

notice_app = typer.Typer(name="notice", add_completion=False, no_args_is_help=True,
                         help="Official notices (Bescheide): render as PDF/A-3, seal, verify.")


def run_render(draft_path: Path, output: Path, *, seal: Optional[Path] = None,
               seal_password_file: Optional[Path] = None, claim: bool = True, design: Optional[Path] = None,
               err=None) -> int:
    """The ``notice render`` command as a function: returns the exit code."""
    from pydantic import ValidationError

    from ...errors import ErechnungError
    from ...notices.calculator import assess
    from ...notices.model import NoticeDraft, NoticeError
    from ...notices.render import render_notice
    from ...notices.seal import SealSettings, read_password_file, seal_pdf

    err = err or sys.stderr
    try:
        text = draft_path.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"Error: cannot read {draft_path}: {exc.strerror or exc}", file=err)
        return EXIT_USAGE
    try:
        settings = None
        if seal is not None:
            password = read_password_file(seal_password_file) if seal_password_file else None
            settings = (SealSettings(p12_path=seal, password=password) if password is not None
                        else SealSettings.from_environment({**_env(), "ERECHNUNG_SEAL_P12": str(seal)}))
        else:
            settings = SealSettings.from_environment(_env())
        notice = assess(NoticeDraft.model_validate_json(text))
        pdf = render_notice(notice, design=design, embed_claim=claim, sealed=settings is not None)
        if settings is not None:
            pdf = seal_pdf(pdf, settings)
    except ValidationError as exc:
        print(f"{draft_path}: not a notice:", file=err)
        for e in exc.errors():
            print(f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']}", file=err)
        return EXIT_FAILED
    except (NoticeError, ErechnungError, ValueError) as exc:
        print(f"{draft_path}: {exc}", file=err)
        return EXIT_FAILED
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(pdf)
    except OSError as exc:
        print(f"Error: cannot write {output}: {exc.strerror or exc}", file=err)
        return EXIT_USAGE
    what = "sealed, " if settings is not None else ""
    claim_note = "with XRechnung claim" if claim and notice.payment_due else "without payment claim"
    print(f"{draft_path} -> {output} ({what}{claim_note}, {len(pdf):,} bytes)", file=err)
    return EXIT_OK


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def run_verify(pdf_path: Path, trust: List[Path], out=None) -> int:
    """The ``notice verify`` command as a function: returns the exit code."""
    from asn1crypto import pem, x509

    from ...notices.seal import verify_seals

    out = out or sys.stdout
    roots = []
    try:
        data = pdf_path.read_bytes()
        for path in trust:
            raw = path.read_bytes()
            ders = [der for _, _, der in pem.unarmor(raw, multiple=True)] if pem.detect(raw) else [raw]
            roots.extend(x509.Certificate.load(der) for der in ders)
    except (OSError, ValueError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    seals = verify_seals(data, roots)
    if not seals:
        print(f"{pdf_path}: no seal or signature", file=out)
        return EXIT_FAILED
    for s in seals:
        print(f"{pdf_path}: {s.field_name}: {'OK' if s.ok else 'FAILED'} ({s.summary}); signer: {s.signer}; "
              f"{s.subfilter} {s.md_algorithm}{'' if s.covers_whole_file else '; changed after sealing'}", file=out)
    return EXIT_OK if all(s.ok for s in seals) else EXIT_FAILED


@notice_app.command("render")
def render_command(
    draft: Path = typer.Argument(..., metavar="NOTICE.json", help="The notice as JSON (see examples/notices)."),
    output: Path = typer.Option(..., "-o", "--output", dir_okay=False, help="The PDF/A-3 to write."),
    seal: Optional[Path] = typer.Option(None, "--seal", dir_okay=False, metavar="P12",
                                        help="Seal with this PKCS#12 file (default: $ERECHNUNG_SEAL_P12, if set)."),
    seal_password_file: Optional[Path] = typer.Option(
        None, "--seal-password-file", dir_okay=False, metavar="FILE",
        help="File holding the PKCS#12 password (default: $ERECHNUNG_SEAL_PASSWORD_FILE or "
             "$ERECHNUNG_SEAL_PASSWORD)."),
    claim: bool = typer.Option(True, "--claim/--no-claim", help="Embed the payment claim as XRechnung."),
    design: Optional[Path] = typer.Option(None, "--design", help="Design folder (default: $ERECHNUNG_DESIGN)."),
) -> None:
    """Assess a notice from its JSON and render it as a PDF/A-3 letter, optionally sealed (PAdES)."""
    raise typer.Exit(run_render(draft, output, seal=seal, seal_password_file=seal_password_file, claim=claim,
                                design=design))


@notice_app.command("verify")
def verify_command(
    pdf: Path = typer.Argument(..., metavar="SEALED.pdf"),
    trust: List[Path] = typer.Option(..., "--trust", metavar="ROOT", help="Trusted root certificate (PEM/DER)."),
) -> None:
    """Verify the seals of a notice against the given root certificates."""
    raise typer.Exit(run_verify(pdf, trust))
