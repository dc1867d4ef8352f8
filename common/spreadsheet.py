"""Cells for CSV exports that a spreadsheet opens as data, never as a formula.

OWASP's CSV injection advice: a text cell starting with `=`, `+`, `-`, `@`, a tab or a
carriage return is prefixed with `'` (and so shown as typed); numbers stay numbers,
rounded to what a reader can use.
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DECIMALS = 4


def cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return round(value, DECIMALS)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def row(values: list[Any]) -> list[Any]:
    return [cell(value) for value in values]
