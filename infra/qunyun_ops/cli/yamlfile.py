"""Operators' YAML files: loaded safely, checked by a model, errors naming the field and line."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from qunyun.domain.errors import InvalidRequest

M = TypeVar("M", bound=BaseModel)


def load_model(path: Path, model: type[M]) -> M:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidRequest(f"{path}: no such file.") from None
    except UnicodeDecodeError:
        raise InvalidRequest(f"{path}: not UTF-8; save the file as UTF-8.") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InvalidRequest(f"{path}:{where} is not valid YAML ({getattr(e, 'problem', e)}).") from None
    if not isinstance(data, dict):
        raise InvalidRequest(f"{path}: expected a mapping of settings at the top level.")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        problems = []
        for item in e.errors()[:20]:
            field = ".".join(str(p) for p in item["loc"])
            problems.append(f"{field}: {item['msg'].removeprefix('Value error, ')}")
        raise InvalidRequest(f"{path}: " + "; ".join(problems) + ". Nothing was changed.") from None
