"""Batch import: JSONL or CSV rows of the New-video form, all checked before anything is created."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from pydantic import ValidationError

from services.board.schemas import JobCreate
from shared.errors import InvalidInput
from shared.httpapi import describe
from shared.jobstate import Column

MAX_ROWS = 500
BOOLEAN_COLUMNS = ("auto_video",)


def _cell(column: str, value: str) -> Any:
    """A CSV cell is text: `true`/`false` in a yes-or-no column are the booleans a JSON row holds
    (the API takes only real booleans there)."""
    if column in BOOLEAN_COLUMNS:
        return {"true": True, "false": False}.get(value.strip().lower(), value)
    return value


def parse(raw: bytes, filename: str) -> list[dict[str, Any]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InvalidInput("file", "is not UTF-8 text; save it as UTF-8 JSONL or CSV") from err
    stripped = text.lstrip()
    if filename.endswith(".jsonl") or stripped.startswith("{"):
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise InvalidInput("file", f"line {number} is not JSON: {err.msg}") from err
            if not isinstance(row, dict):
                raise InvalidInput("file", f"line {number} is not a JSON object")
            rows.append(row)
    else:
        rows = _csv_rows(text)
    if not rows:
        raise InvalidInput("file", "has no rows")
    if len(rows) > MAX_ROWS:
        raise InvalidInput("file", f"has {len(rows)} rows; at most {MAX_ROWS} per import")
    return rows


def _csv_rows(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))  # newlines inside quoted cells are text
    try:
        if not reader.fieldnames or "title" not in reader.fieldnames:
            raise InvalidInput("file", "a CSV needs a header row with at least title and brief")
        return [{k: _cell(k, v) for k, v in row.items() if k and v not in (None, "")} for row in reader]
    except csv.Error as err:  # a NUL byte, a cell over the size limit...
        raise InvalidInput(
            "file",
            f"is not a CSV file that can be read (line {reader.line_num}: {err}); save it again as CSV",
        ) from err


def validate(
    rows: list[dict[str, Any]], start: Column | None
) -> tuple[list[tuple[int, JobCreate]], list[dict[str, str]]]:
    bodies, errors = [], []
    for number, row in enumerate(rows, start=1):
        try:
            bodies.append((number, JobCreate.model_validate(row | ({"start": start} if start else {}))))
        except ValidationError as err:
            errors += [
                {"field": f"row {number}: {e['field']}", "message": e["message"]}
                for e in describe(err.errors())
            ]
    return bodies, errors
