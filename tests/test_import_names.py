"""Our top-level packages win over PyPI packages of the same name (PyPI has a popular `validators`)."""
from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_pypi_validators_is_installed_in_this_environment():
    """The precondition of the next test: the shadowing package really is there."""
    assert importlib.metadata.distribution("validators").metadata["Name"] == "validators"


def test_import_validators_gives_ours_even_from_a_foreign_working_directory(tmp_path):
    code = ("import validators, erechnung, flows, mailbox_connectors, sys; "
            "print(validators.__file__); print(erechnung.__file__); print(flows.__file__); "
            "print(mailbox_connectors.__file__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    files = [Path(line) for line in out.stdout.split()]
    assert all(f.is_relative_to(ROOT) for f in files), files


def test_our_validators_package_is_the_validation_engine():
    import validators
    assert Path(validators.__file__).parent == ROOT / "validators"
    assert not hasattr(validators, "email"), "PyPI's validators.email must not be what we import"
