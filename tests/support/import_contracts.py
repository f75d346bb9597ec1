"""An import-linter contract the built-in types cannot express: that some modules never
import certain *names* of a package (Flask's `request`), while they may import others
from it (`current_app`). import-linter sees external packages only as a whole
("flask"), so this contract reads the import statements of the modules that import the
package directly, which grimp's graph lists."""
from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from importlinter import Contract, ContractCheck, fields, output


class ForbiddenNamesContract(Contract):
    """Options: source_modules (with their descendants), module (an external package),
    names (what they may not import from it, nor reach as `module.name`)."""

    source_modules = fields.ListField(subfield=fields.StringField())
    module = fields.StringField()
    names = fields.ListField(subfield=fields.StringField())

    def check(self, graph, verbose: bool) -> ContractCheck:
        sources = set()
        for source in self.source_modules:
            sources |= {source} | graph.find_descendants(source)
        forbidden = set(self.names)
        found = []
        for importer in sorted(sources):
            if self.module in graph.find_modules_directly_imported_by(importer):
                found += [(importer, line, text) for line, text in self._uses(importer, forbidden)]
        return ContractCheck(kept=not found, metadata={"found": found})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for importer, line, text in check.metadata["found"]:
            output.print_error(f"{importer}:{line}: {text} (not allowed here)")
        output.new_line()

    def _uses(self, importer: str, forbidden: set[str]):
        origin = _source_of(importer)
        tree = ast.parse(origin.read_text(encoding="utf-8"), str(origin))
        package = self.module
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (
                    node.module == package or (node.module or "").startswith(package + ".")):
                for alias in node.names:
                    if alias.name in forbidden:
                        yield node.lineno, f"from {node.module} import {alias.name}"
            elif (isinstance(node, ast.Attribute) and node.attr in forbidden
                  and isinstance(node.value, ast.Name) and node.value.id == package):
                yield node.lineno, f"{package}.{node.attr}"


def _source_of(module: str) -> Path:
    """The file of `module`, found from its top-level package without importing it."""
    top, *rest = module.split(".")
    package_dir = Path(importlib.util.find_spec(top).origin).parent
    path = package_dir.joinpath(*rest)
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
