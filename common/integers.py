"""The one reading of an integer from a request (contract section 12: numbers are ASCII).

Python's `str.isdigit()` is true for a superscript two, and `int()` reads Arabic-Indic
and fullwidth digits, `+1`, ` 1` and `1_000`: a client that sends any of those sent
something other than a number. So every integer parameter (query, path, form, a socket's
`since`) goes through `parse_int`: ASCII digits only, no sign, no spaces, at most 18 of
them (every value fits a PostgreSQL bigint), within the caller's bounds. Anything else is
None, which each caller turns into its own refusal (400 `invalid`, the form's error, a
socket's resync).
"""

from __future__ import annotations

import re

from django import forms
from django.db import models

MAX_DIGITS = 18  # 10**18 - 1 < 2**63: a bigint column can hold every value that parses
BIGINT_MAX = 2**63 - 1
_ASCII_DIGITS = re.compile(rf"[0-9]{{1,{MAX_DIGITS}}}", re.ASCII)


def parse_int(value: object, *, min_value: int = 0, max_value: int = BIGINT_MAX) -> int | None:
    """`value` as an int when it is a string of ASCII digits within [min_value, max_value]."""
    if not isinstance(value, str) or not _ASCII_DIGITS.fullmatch(value):
        return None
    number = int(value)
    return number if min_value <= number <= max_value else None


class AsciiIntegerField(forms.IntegerField):
    """A form's integer: ASCII digits only, so `٣` or `1e3` is the form's "Enter a whole
    number." and never a value (Django's own field reads Arabic-Indic 3 as 3, `1.0` as 1)."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = str(value)
        number = parse_int(text, min_value=0)
        if number is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return number


def ascii_integer_formfield(db_field, **kwargs):
    """A model form's field for `db_field`, with `AsciiIntegerField` for an integer column
    (a ModelForm's formfield_callback)."""
    if isinstance(db_field, models.IntegerField):
        kwargs["form_class"] = AsciiIntegerField
    return db_field.formfield(**kwargs)


class IdConverter:
    """`<id:name>` in a URL: a row's id, ASCII digits that fit a bigint. Django's `<int:...>`
    matches any run of digits, so an id of 30 digits reached the database."""

    regex = f"[0-9]{{1,{MAX_DIGITS}}}"

    def to_python(self, value: str) -> int:
        number = parse_int(value, min_value=1)
        if number is None:
            raise ValueError(value)  # Django reads this as "this URL does not match"
        return number

    def to_url(self, value: int) -> str:
        return str(value)
