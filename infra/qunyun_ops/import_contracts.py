"""An import-linter contract for the handler modules, which are top-level modules in functions/ (Lambda's
`Handler: mall_api.lambda_handler`), not a package, so import-linter's own contracts cannot take them as
sources. It reads each handler's imports with `ast` and refuses those of the forbidden modules."""

from __future__ import annotations

import ast
from pathlib import Path

from importlinter import Contract, ContractCheck, fields, output


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every module a file imports, at any depth (a function's local import counts too), with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found += [(node.module, node.lineno)]
            found += [(f"{node.module}.{alias.name}", node.lineno) for alias in node.names]
    return found


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


class HandlerImportsContract(Contract):
    type_name = "handlers"

    handlers_dir = fields.StringField()
    forbidden_modules = fields.ListField(subfield=fields.StringField())

    def check(self, graph, verbose: bool) -> ContractCheck:
        broken = []
        for path in sorted(Path(self.handlers_dir).glob("*.py")):  # type: ignore[arg-type]
            for module, line in _imports(path):
                for forbidden in self.forbidden_modules:  # type: ignore[attr-defined]
                    if _within(module, forbidden):
                        broken.append(f"{path.name}:{line} imports {module}")
        return ContractCheck(kept=not broken, metadata={"broken": sorted(set(broken))})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for line in check.metadata["broken"]:
            output.print_error(line)
            output.new_line()
