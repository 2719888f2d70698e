"""The layering rules, checked on the source: the layers contract of pyproject.toml ([tool.importlinter]:
imports point down, Qt only in ecomdesk/ui), and what the Spark job's code may import."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """import-linter over the package under `root`, with the contracts of `root`/pyproject.toml."""
    env = {**os.environ, "PYTHONPATH": str(root)}  # before the editable install of the checkout
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo", str(root / "pyproject.toml")], cwd=root,
                          env=env, capture_output=True, text=True, timeout=120)


def test_the_layers_contract_holds():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(("module", "line", "broken"), [
    ("core/spec.py", "import ecomdesk.stack.catalog", "imports point down the layers"),
    ("data/readers.py", "from ecomdesk.pipeline import funnel", "imports point down the layers"),
    ("stack/catalog.py", "import PySide6.QtCore", "Qt only in ecomdesk.ui"),
])
def test_an_upward_import_breaks_the_contract(tmp_path, module, line, broken):
    """The same contract over a copy of the package with one import added where it does not belong."""
    shutil.copytree(ROOT / "ecomdesk", tmp_path / "ecomdesk", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    target = tmp_path / "ecomdesk" / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert f"{broken} BROKEN" in result.stdout and f"ecomdesk.{module[:-3].replace('/', '.')}" in result.stdout


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def test_spark_job_code_depends_only_on_the_contract():
    """The job ships to Spark executors: the pipeline may use the data contract, the telemetry lines it
    writes, the Kafka security vocabulary and itself, nothing else (an allow-list, which import-linter's
    contracts do not express)."""
    allowed = ("ecomdesk.pipeline", "ecomdesk.data.contract", "ecomdesk.telemetry", "ecomdesk.kafka_security")
    parents = ("ecomdesk", "ecomdesk.data")  # `from ecomdesk.data import contract` names these too
    files = sorted((ROOT / "ecomdesk" / "pipeline").rglob("*.py")) + sorted((ROOT / "jobs").rglob("*.py"))
    found = [f"{f} imports {name}" for f in files for name in sorted(imports_of(f))
             if within(name, ("ecomdesk",)) and not within(name, allowed) and name not in parents]
    assert found == []


def test_the_allow_list_sees_every_form_of_import(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("import a.b\ndef f():\n    from c.d import e\n")
    assert imports_of(path) == {"a.b", "c.d", "c.d.e"}
