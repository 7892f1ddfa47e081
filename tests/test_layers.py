"""The exceptions to the import layers stay what pyproject.toml's [tool.importlinter] says they are.

The layers contract (checked by ``make lint-imports``) lets three core modules import the results
package and the report: the result objects' accessors, ``plot_*``, ``unit_summary``,
``_repr_html_`` and ``save``, each importing inside its own method. The contract can only name the
modules; this test reads their code and requires every such import to stand inside one of those
methods of a class, so that a helper or a module-level import of the report cannot hide behind the
exception.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import weightlab

PACKAGE = Path(weightlab.__file__).parent
ACCESSOR_MODULES = ("index.py", "compare.py", "robustness/results.py", "importances/table.py")  # the ignore_imports of the contract
HIGHER = ("weightlab.report", "weightlab.results")


def _is_accessor(name: str) -> bool:
    return name.startswith("plot_") or name in ("_repr_html_", "save", "unit_summary")


def upward_imports(source: str, module: str) -> list[tuple[int, str, str | None]]:
    """``(line, imported module, enclosing method or None)`` of every import of ``HIGHER`` in
    ``source`` (the code of ``module``, e.g. ``weightlab.index``); the method is named only when the
    import stands directly in a function defined in a class body."""
    package = module.rsplit(".", 1)[0]
    found = []

    def visit(node: ast.AST, method: str | None, in_class: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                if isinstance(child, ast.Import):
                    names = [a.name for a in child.names]
                else:
                    base = package.split(".")[:len(package.split(".")) - (child.level - 1)] if child.level else []
                    names = [".".join(base + ([child.module] if child.module else []))]
                found.extend((child.lineno, n, method) for n in names if n.startswith(HIGHER))
            if isinstance(child, ast.ClassDef):
                visit(child, None, True)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, child.name if in_class else None, False)
            else:
                visit(child, method, in_class and not isinstance(child, ast.stmt))

    visit(ast.parse(source), None, False)
    return found


def test_the_reader_finds_imports_outside_methods():
    """The check can fail: a module-level import and one in a plain function are found, unnamed."""
    code = ("from .report import ranks\n"
            "def helper():\n    from .results.write import save_index_result\n"
            "class R:\n    def save(self):\n        from .results.write import save_index_result\n"
            "    def plot_x(self):\n        def inner():\n            from .report.ranks import f\n")
    assert upward_imports(code, "weightlab.index") == [
        (1, "weightlab.report", None), (3, "weightlab.results.write", None),
        (6, "weightlab.results.write", "save"), (9, "weightlab.report.ranks", None)]


@pytest.mark.parametrize("path", ACCESSOR_MODULES)
def test_core_modules_import_the_report_and_results_only_in_their_accessors(path):
    module = "weightlab." + path.removesuffix(".py").replace("/", ".")
    found = upward_imports((PACKAGE / path).read_text(encoding="utf-8"), module)
    assert found, f"{path} has no accessor any more: drop it from the contract's ignore_imports"
    stray = [(line, name) for line, name, method in found if method is None or not _is_accessor(method)]
    assert stray == [], f"{path} imports the report or the results package outside an accessor"
