"""Operators' YAML files: loaded safely, checked by a model, errors naming the field and line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from qunyun.domain.errors import InvalidRequest

from qunyun_ops.cli.textfile import read_text

M = TypeVar("M", bound=BaseModel)


def _not_yaml(path: Path, e: yaml.YAMLError) -> InvalidRequest:
    mark = getattr(e, "problem_mark", None)
    where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return InvalidRequest(f"{path}:{where} is not valid YAML ({getattr(e, 'problem', e)}).")


class _TextTimes(yaml.SafeLoader):
    """Dates and times stay text for the model to check: PyYAML itself fails on 2026-11-31 with no place."""


_TextTimes.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


def read_yaml(path: Path) -> tuple[dict, Callable[[tuple], int | None]]:
    """The file's mapping, and where each key and list item starts: `line_of(("sections", 2, "link"))`
    is the line of that key, or of the nearest enclosing one when it is missing."""
    loader = _TextTimes(read_text(path).text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else {}
    except yaml.YAMLError as e:
        raise _not_yaml(path, e) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise InvalidRequest(f"{path}: expected a mapping of settings at the top level.")
    lines: dict[tuple, int] = {}
    _lines(node, (), lines)

    def line_of(where: tuple) -> int | None:
        for n in range(len(where), 0, -1):
            if where[:n] in lines:
                return lines[where[:n]]
        return None

    return data, line_of


def _lines(node: yaml.Node, at: tuple, lines: dict[tuple, int], depth: int = 0) -> None:
    if depth > 30:  # aliases can nest a document in itself; nothing an operator writes is this deep
        return
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            here = (*at, key.value)
            lines.setdefault(here, key.start_mark.line + 1)
            _lines(value, here, lines, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.setdefault((*at, i), item.start_mark.line + 1)
            _lines(item, (*at, i), lines, depth + 1)


def load_model(path: Path, model: type[M]) -> M:
    """The file checked by `model`; every problem is named with its field and line, and nothing is changed."""
    data, line_of = read_yaml(path)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        problems = []
        for item in e.errors()[:20]:
            field = ".".join(str(p) for p in item["loc"])
            line = line_of(tuple(item["loc"]))
            where = f"line {line}, " if line else ""
            problems.append(f"{where}{field}: {item['msg'].removeprefix('Value error, ')}")
        raise InvalidRequest(f"{path}: " + "; ".join(problems) + ". Nothing was changed.") from None
