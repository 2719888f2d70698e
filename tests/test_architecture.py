"""The layering rules, checked on the source: Qt only in ecomdesk/ui, and the core below everything else."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QT = ("PySide6", "shiboken6", "pyqtgraph", "ecomdesk.ui")
# The one door from the rest into the GUI: `ecomdesk` (or `ecomdesk gui`) imports the app when it opens a window.
GUI_DOOR = ROOT / "ecomdesk" / "cli" / "main.py", ("ecomdesk.ui.app", "ecomdesk.ui.app.main")


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


def modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def violations(files: list[Path], forbidden) -> list[str]:
    return [f"{f} imports {name}" for f in files for name in sorted(imports_of(f)) if forbidden(name)]


def within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def test_no_qt_outside_ui():
    outside = [f for f in modules("ecomdesk") + modules("jobs") if "ui" not in f.relative_to(ROOT).parts]
    found = violations(outside, lambda name: within(name, QT))
    door = [f"{GUI_DOOR[0]} imports {name}" for name in GUI_DOOR[1]]
    assert [v for v in found if v not in door] == []


def test_core_imports_nothing_above_it():
    core = modules("ecomdesk/core")
    assert violations(core, lambda name: within(name, ("ecomdesk",)) and not within(name, ("ecomdesk.core",))) == []


def test_spark_job_code_depends_only_on_the_contract():
    """The job ships to Spark executors: the pipeline may use the data contract, the telemetry lines it
    writes and itself, nothing else."""
    allowed = ("ecomdesk.pipeline", "ecomdesk.data.contract", "ecomdesk.telemetry")
    parents = ("ecomdesk", "ecomdesk.data")  # `from ecomdesk.data import contract` names these too
    pipeline = modules("ecomdesk/pipeline") + modules("jobs")
    assert violations(pipeline, lambda name: within(name, ("ecomdesk",)) and not within(name, allowed)
                      and name not in parents) == []


@pytest.mark.parametrize(("source", "expected"), [
    ("import PySide6.QtCore\n", "PySide6.QtCore"),
    ("def f():\n    from pyqtgraph import PlotWidget\n", "pyqtgraph"),
    ("from ecomdesk.ui import fmt\n", "ecomdesk.ui.fmt"),
])
def test_the_checker_sees_every_form_of_import(tmp_path, source, expected):
    path = tmp_path / "m.py"
    path.write_text(source)
    assert violations([path], lambda name: within(name, QT)) != [] and expected in imports_of(path)
