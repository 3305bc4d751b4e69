"""Reading the group CSV: every row is checked first; one bad row means nothing is imported."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from pydantic import ValidationError

from qunyun.domain.groups import COLUMNS, REQUIRED_COLUMNS, GroupRow

MAX_ROWS = 200_000


@dataclass(frozen=True)
class RowError:
    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", {self.field}" if self.field else "")
        return f"{where}: {self.message}"


def _describe(err: ValidationError) -> list[tuple[str | None, str]]:
    out = []
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"]) or None
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "enum":
            msg = f"{e['input']!r} is not one of {e['ctx']['expected']}"
        elif e["type"] in ("datetime_from_date_parsing", "datetime_parsing", "datetime_type"):
            msg = f"{e['input']!r} is not an ISO 8601 date-time such as 2026-11-30T22:00:00+08:00"
        out.append((field, msg))
    return out


def parse_group_csv(text: str) -> tuple[list[GroupRow], list[RowError]]:
    """Returns the valid rows and every error found, each with its line number in the file."""
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return [], [RowError(1, None, "the file is empty; expected a header row: " + ",".join(COLUMNS))]
    except csv.Error as e:
        return [], [RowError(1, None, f"unreadable CSV: {e}")]
    errors: list[RowError] = []
    unknown = [h for h in header if h not in COLUMNS]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if unknown or missing or len(set(header)) != len(header):
        detail = "; ".join(
            part for part in (
                f"unknown columns {unknown}" if unknown else "",
                f"missing columns {missing}" if missing else "",
                "a column appears twice" if len(set(header)) != len(header) else "",
            ) if part
        )
        return [], [RowError(1, None, f"header: {detail}; expected: {','.join(COLUMNS)}")]

    rows: list[GroupRow] = []
    seen: dict[str, int] = {}
    line = 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            errors.append(RowError(reader.line_num, None, f"unreadable CSV: {e}"))
            break
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(rows) + len(errors) >= MAX_ROWS:
            errors.append(RowError(line, None, f"a file holds at most {MAX_ROWS} groups; split it"))
            break
        if len(values) != len(header):
            errors.append(RowError(line, None, f"expected {len(header)} values, found {len(values)}"))
            continue
        try:
            row = GroupRow.model_validate(dict(zip(header, values, strict=True)))
        except ValidationError as e:
            errors.extend(RowError(line, field, msg) for field, msg in _describe(e))
            continue
        if row.group_id in seen:
            errors.append(RowError(line, "group_id", f"{row.group_id!r} already appears on line {seen[row.group_id]}"))
            continue
        seen[row.group_id] = line
        rows.append(row)
    return rows, errors
