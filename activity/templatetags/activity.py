"""Formatting for the control center: rates always with their sample size."""

from django import template

register = template.Library()


@register.simple_tag
def rate(part: int, whole: int) -> str:
    """'75% (3 of 4)', so that 1 of 1 is not read as 100% of a real record; '— (0)' with no sample."""
    if not whole:
        return "— (0)"
    return f"{100 * part / whole:.0f}% ({part} of {whole})"


@register.filter
def percent_of(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else ""


@register.filter
def seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"
