"""Template filters for DICOM values."""

from django import template

register = template.Library()


@register.filter
def person_name(value: str) -> str:
    """A DICOM PN (``FAMILY^Given^Middle^Prefix^Suffix``) as people write it: ``FAMILY Given Middle``.

    Only the first (alphabetic) component group is shown; ideographic and phonetic
    groups after ``=`` are dropped. Escaping stays with the template engine.
    """
    if not value:
        return ""
    alphabetic = str(value).split("=", 1)[0]
    parts = [p.strip() for p in alphabetic.split("^")]
    family, given, middle, prefix, suffix = (parts + [""] * 5)[:5]
    return " ".join(p for p in (prefix, family, given, middle, suffix) if p)
