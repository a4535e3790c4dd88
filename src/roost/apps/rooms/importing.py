"""Rooms from a CSV file (a spreadsheet export): one room per row, headers naming RoomIn's
fields, lists (equipment, weekdays) separated by ";". Every row is checked before anything is
written, and every bad row is reported with its line number."""

from __future__ import annotations

import csv
import io
from typing import Any

from pydantic import ValidationError

from roost.cloud.errors import Invalid

from .models import RoomIn

LISTS = ("equipment", "weekdays", "manager_emails")
FIELDS = set(RoomIn.model_fields)
MAX_ROWS = 2000


def parse_rooms(text: str) -> list[RoomIn]:
    """The rooms of a CSV text; `Invalid` naming every bad line, or an unknown column."""
    reader = csv.DictReader(io.StringIO(text))
    unknown = set(reader.fieldnames or []) - FIELDS
    if not reader.fieldnames or "name" not in reader.fieldnames:
        raise Invalid("the first line names the columns, at least name, site and capacity",
                      code="csv_header")
    if unknown:
        raise Invalid(f"unknown columns: {', '.join(sorted(unknown))}; known: "
                      f"{', '.join(sorted(FIELDS))}", code="csv_header")
    rooms: list[RoomIn] = []
    problems: list[dict[str, Any]] = []
    for row in reader:
        if reader.line_num > MAX_ROWS + 1:
            raise Invalid(f"at most {MAX_ROWS} rooms a file", code="csv_too_long")
        values: dict[str, Any] = {k: v.strip() for k, v in row.items()
                                  if k is not None and v is not None and v.strip() != ""}
        for name in LISTS:
            if name in values:
                values[name] = [p.strip() for p in values[name].split(";") if p.strip()]
        if values.get("grace_minutes", "").lower() in ("none", "never"):
            values["grace_minutes"] = None
        try:
            rooms.append(RoomIn.model_validate(values))
        except ValidationError as exc:
            first = exc.errors()[0]
            problems.append({"line": reader.line_num, "column": ".".join(
                str(p) for p in first["loc"]), "problem": first["msg"]})
    if problems:
        raise Invalid(f"{len(problems)} line(s) of the file are not rooms; nothing was "
                      "imported", code="csv_rows", problems=problems)
    if not rooms:
        raise Invalid("the file holds no rooms", code="csv_empty")
    return rooms
