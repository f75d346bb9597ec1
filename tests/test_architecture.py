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


def test_a_model_importing_the_web_layer_breaks_the_layers(scratch):
    add_import(scratch / "app/models/registry.py", "from app.web import access")
    result = lint_imports(scratch)
    assert result.returncode == 1
    assert "app.models is not allowed to import app.web" in result.stdout


def test_the_database_reaching_up_into_the_services_breaks_the_layers(scratch):
    add_import(scratch / "app/db.py", "from app.services.consent.purposes import ensure_catalogue")
    result = lint_imports(scratch)
    assert result.returncode == 1
    assert "app.db is not allowed to import app.services" in result.stdout


def test_a_cycle_between_service_packages_is_refused(scratch):
    # platform is the lowest service package: rights depends on it, never the reverse.
    add_import(scratch / "app/services/platform/mail.py", "from app.services.rights import erasure")
    result = lint_imports(scratch)
    assert result.returncode == 1
    assert "No cycles are allowed in app.services" in result.stdout


def test_a_service_reading_the_request_is_refused(scratch):
    add_import(scratch / "app/services/platform/links.py", "from flask import request")
    result = lint_imports(scratch)
    assert result.returncode == 1
    assert "app.services.platform.links" in result.stdout and "from flask import request" in result.stdout
