"""Filters for the rows of exam tables, cheap enough for a 200-row worklist polled every 5 s.

Django's ``get_FOO_display`` hashes the (lazy) choices on every call and
``{% url %}`` resolves the URL conf on every row; at 200 rows that was most of
the worklist's server time. These filters compute each label table and each
URL pattern once per language / URL prefix.
"""

import datetime
import functools
import zoneinfo

from django import template
from django.urls import get_script_prefix, reverse
from django.utils import dateformat, timezone
from django.utils.formats import get_format
from django.utils.translation import get_language

from worklist.models import ExamStatus, Priority

register = template.Library()

_PK = 987654321  # a placeholder primary key, replaced by the exam's


@functools.lru_cache(maxsize=64)
def _labels(choices: type, language: str | None) -> dict[str, str]:
    return {value: str(label) for value, label in choices.choices}


@functools.lru_cache(maxsize=64)
def _pattern(name: str, prefix: str) -> str:
    return reverse(name, args=[_PK])


@register.filter
def priority_label(exam) -> str:
    """The exam's priority as shown to the user (its translated label)."""
    return _labels(Priority, get_language()).get(exam.priority, exam.priority)


@register.filter
def status_label(exam) -> str:
    """The exam's status as shown to the user (its translated label)."""
    return _labels(ExamStatus, get_language()).get(exam.status, exam.status)


@register.filter
def exam_url(exam, name: str) -> str:
    """``reverse(name, args=[exam.pk])`` for URL names whose only argument is the exam's pk."""
    return _pattern(name, get_script_prefix()).replace(str(_PK), str(exam.pk))


@register.filter
def site_datetime(value: datetime.datetime | None, tz_name: str) -> str:
    """An instant in the site's time zone, in the language's SHORT_DATETIME_FORMAT."""
    if value is None:
        return ""
    local = timezone.localtime(value, zoneinfo.ZoneInfo(tz_name))
    return dateformat.format(local, get_format("SHORT_DATETIME_FORMAT"))
