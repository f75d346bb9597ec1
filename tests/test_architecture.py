"""The layers of docs/architecture.md hold: `lint-imports` keeps them, and it fails when
code breaks them. Each breaking case runs import-linter on a scratch copy of the code."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)}, timeout=120)


@pytest.fixture
def scratch(tmp_path):
    """A copy of the code and its contracts, to break on purpose."""
    for folder in ("app", "jobs", "tests/support"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "tests" / "__init__.py").touch()
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def add_import(path: Path, statement: str) -> None:
    """Add an import inside a function: import-linter still sees it, and importing the
    module stays possible (at the top, the upward import would also be circular)."""
    path.write_text(path.read_text() + f"\n\ndef _scratch():\n    {statement}  # noqa\n")


def test_the_code_keeps_every_import_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout
    assert "0 broken" in result.stdout


BREAKS = {
    "a model importing the web layer": (
        "app/models/registry.py", "from app.web import access", "app.models is not allowed to import app.web"),
    "the database reaching up into the services": (
        "app/db.py", "from app.services.consent.purposes import ensure_catalogue",
        "app.db is not allowed to import app.services"),
    # platform is the lowest service package: rights stands on it, never the reverse.
    "a cycle between service packages": (
        "app/services/platform/mail.py", "from app.services.rights import erasure",
        "No cycles are allowed in app.services"),
    "a service package importing one above it": (
        "app/services/consent/ledger.py", "from app.services.newsletters import catalogue",
        "app.services.consent is not allowed to import app.services.newsletters"),
    "a service reading the request": (
        "app/services/platform/links.py", "from flask import request",
        "app.services.platform.links:"),
}


@pytest.mark.parametrize("module, statement, refusal", BREAKS.values(), ids=BREAKS.keys())
def test_lint_imports_refuses_code_that_breaks_a_contract(scratch, module, statement, refusal):
    add_import(scratch / module, statement)
    result = lint_imports(scratch)
    assert result.returncode == 1
    assert refusal in result.stdout
