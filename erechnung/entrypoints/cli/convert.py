"""``erechnung convert INPUT --to ubl|cii|json|zugferd`` and ``erechnung show INPUT --html FILE``: one invoice into
another syntax, or readable as a page.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2


def run_convert(input_path: Path, to: str, output: Optional[Path] = None, out=None,
                profile: str = "EN16931") -> int:
    """The ``convert`` command as a function: returns the exit code (0 done, 1 unreadable/unwritable, 2 usage)."""
    from ...convert import TARGETS, convert
    from ...errors import ErechnungError

    err = sys.stderr
    if to not in TARGETS:
        print(f"Error: --to must be one of {', '.join(TARGETS)}, not {to!r}", file=err)
        return EXIT_USAGE
    profile = profile.upper()
    if to == "zugferd" and profile not in ("EN16931", "XRECHNUNG"):
        print(f"Error: --profile must be EN16931 or XRECHNUNG, not {profile!r}", file=err)
        return EXIT_USAGE
    try:
        data = input_path.read_bytes()
    except OSError as exc:
        print(f"Error: cannot read {input_path}: {exc.strerror or exc}", file=err)
        return EXIT_USAGE
    try:
        result = convert(data, to, profile)  # type: ignore[arg-type]
    except ErechnungError as exc:
        print(f"{input_path}: cannot convert to {to}: {exc}", file=err)
        return EXIT_REJECTED
    if output is None:
        target = out or sys.stdout
        if hasattr(target, "buffer"):
            target.buffer.write(result)
            target.flush()
        else:
            target.write(result.decode("utf-8"))
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(result)
        print(f"{input_path} -> {output} ({to})", file=err)
    return EXIT_OK


def run_show(input_path: Path, html: Path, *, with_report: bool = False, lang: str = "de") -> int:
    """The ``show`` command as a function: 0 written, 1 the input cannot be shown, 2 usage (unreadable input)."""
    from ...errors import ErechnungError
    from ...view import LANGUAGES, show

    err = sys.stderr
    if lang not in LANGUAGES:
        print(f"Error: --lang must be one of {', '.join(LANGUAGES)}, not {lang!r}", file=err)
        return EXIT_USAGE
    if not input_path.is_file():
        print(f"Error: {input_path}: no such file", file=err)
        return EXIT_USAGE
    try:
        shown = show(input_path, html, with_report=with_report, lang=lang)
    except ErechnungError as exc:
        print(f"{input_path}: cannot be shown: {exc}", file=err)
        return EXIT_REJECTED
    except OSError as exc:
        print(f"Error: {exc.strerror or exc}: {exc.filename or ''}", file=err)
        return EXIT_USAGE
    what = f" ({shown.embedded})" if shown.embedded else ""
    verdict = f", Prüfergebnis: {shown.result.verdict} ({shown.result.reason})" if shown.result else ""
    print(f"{input_path}{what} -> {shown.output}{verdict}", file=err)
    for value in shown.invalid:  # shown as it stands, marked invalid on the page
        print(f"Warnung: {value}; auf der Seite als ungültig markiert", file=err)
    return EXIT_OK
