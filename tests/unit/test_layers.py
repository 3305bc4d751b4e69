"""The shape of the code, checked by tools rather than by review (STYLE.md, issue: one storage seam).

GIVEN the functions/ tree WHEN its imports, sizes and environment reads are inspected THEN the layer
contracts of pyproject.toml hold, no file is over 400 lines nor any function over 60, only settings.py reads
the environment, and no service spells a DynamoDB key."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
SERVICES = FUNCTIONS / "qunyun" / "services"
# qunyun's keys join their parts with "#" ("{tenant}#RD#{order}", "G#limit#...", "FULFIL#3", "#ORDER"), and
# no message text a service writes uses it: a "#" in a service's string is a key spelled outside the adapters.
KEY_FORMAT = re.compile(r"#")


def _python_files(top: Path) -> list[Path]:
    return sorted(p for p in top.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_layer_contracts_hold():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FUNCTIONS), str(ROOT / "infra")])}
    run = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def test_no_file_over_400_lines_and_no_function_over_60():
    too_long = []
    for path in _python_files(FUNCTIONS):
        source = path.read_text(encoding="utf-8")
        if len(source.splitlines()) > 400:
            too_long.append(f"{path.relative_to(ROOT)}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno >= 60:
                too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert too_long == []


def test_only_settings_reads_the_environment():
    readers = [str(p.relative_to(ROOT)) for p in _python_files(FUNCTIONS)
               if p.name != "settings.py" and re.search(r"\bos\.environ\b|\bgetenv\(", p.read_text(encoding="utf-8"))]
    assert readers == []


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """The string literals of a module, f-strings' literal parts included, docstrings left out."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_no_service_spells_a_dynamodb_key():
    spelled = [f"{path.name}:{line}: {text!r}" for path in _python_files(SERVICES)
               for line, text in _strings(ast.parse(path.read_text(encoding="utf-8"))) if KEY_FORMAT.search(text)]
    assert spelled == []


def test_the_key_check_sees_f_strings_and_skips_docstrings():
    tree = ast.parse('"""A doc # with a hash."""\nkey = f"{tenant}#RD#{oid}"\ntext = "no key here"\n')
    assert [line for line, text in _strings(tree) if KEY_FORMAT.search(text)] == [2]
