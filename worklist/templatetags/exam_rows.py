"""The rows of exam tables, built in Python in one pass: the worklist renders 200 of them whenever it changes.

Issue #6 asks for the worklist in < 150 ms. A template loop, or a tag per row,
resolves every variable, label, URL and translation again on each of the 200
rows; here everything that does not depend on the exam (labels, URL patterns,
translated words, the CSRF field, the date format) is looked up once per table,
and each row is a few f-strings. Every value taken from an exam or a label goes
through ``html.escape``; the result is marked safe only at the end.
"""

import functools
import zoneinfo
from html import escape

from django import template
from django.urls import get_script_prefix, reverse
from django.utils import dateformat
from django.utils.formats import get_format
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from core.templatetags.dicom import person_name
from worklist.models import ExamStatus, Priority

register = template.Library()

_PK = 987654321  # a placeholder primary key, replaced by the exam's


@functools.lru_cache(maxsize=64)
def _labels(choices: type, language: str | None) -> dict[str, str]:
    """The translated labels of a TextChoices, escaped (get_FOO_display hashes the lazy choices on every call)."""
    return {value: escape(str(label)) for value, label in choices.choices}


@functools.lru_cache(maxsize=64)
def _url_parts(name: str, prefix: str) -> tuple[str, str]:
    """``reverse(name, args=[pk])`` split around the pk, escaped: the row only puts the exam's pk in between."""
    before, after = reverse(name, args=[_PK]).split(str(_PK))
    return escape(before), escape(after)


@functools.lru_cache(maxsize=16)
def _worklist_url(prefix: str) -> str:
    return escape(reverse("worklist"))


# Django date format characters → strftime directives, for the SHORT_DATETIME_FORMATs in use
# (teleradio/formats); a format with any other character goes through dateformat.
_STRFTIME = {"d": "%d", "m": "%m", "Y": "%Y", "H": "%H", "i": "%M", "s": "%S", "y": "%y"}


@functools.lru_cache(maxsize=16)
def _strftime(django_format: str) -> str | None:
    out = []
    for char in django_format:
        if char.isalpha():
            if char not in _STRFTIME:
                return None
            out.append(_STRFTIME[char])
        else:
            out.append(char.replace("%", "%%"))
    return "".join(out)


@register.simple_tag(takes_context=True)
def exam_rows(context, exams, take: bool = False, claim: bool = False) -> str:
    """One ``<tr>`` per exam: the nine data cells, then, if ``take`` or ``claim``, the actions cell.

    The actions: "Reprendre" on an exam the reader is reading, "Lire" (claim) on
    their assigned exam or on any pool exam, "Prendre" on a pool exam; the
    services check again when the form is posted. Worklist rows may carry
    ``deadline_state`` and ``countdown`` (worklist.views._with_deadlines).
    """
    prefix = get_script_prefix()
    priorities = _labels(Priority, get_language())
    statuses = _labels(ExamStatus, get_language())
    detail_url = _url_parts("exam_detail", prefix)
    claim_url = _url_parts("exam_claim", prefix)
    take_url = _url_parts("exam_take", prefix)
    django_format = get_format("SHORT_DATETIME_FORMAT")
    directives = _strftime(django_format)

    def when(value, tz_name: str) -> str:  # an instant in the site's time zone, in the language's short format
        if value is None:
            return ""
        local = value.astimezone(zoneinfo.ZoneInfo(tz_name))
        return escape(local.strftime(directives) if directives else dateformat.format(local, django_format))

    # Labels outside the f-strings: makemessages (xgettext) does not read calls inside them.
    no_description = escape(_("(sans description)"))
    still_arriving = escape(_("Des images arrivent encore"))
    new_series, pool = escape(_("nouvelle série reçue")), escape(_("pool"))
    new_series = f' <span class="badge new-series">{new_series}</span>'
    pool = f' <span class="badge pool">{pool}</span>'
    resume, read, take_label = escape(_("Reprendre")), escape(_("Lire")), escape(_("Prendre"))
    csrf = f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(str(context.get("csrf_token", "")))}">'
    back_to_worklist = f'<input type="hidden" name="next" value="{_worklist_url(prefix)}">'
    user_id = context["user"].pk if take or claim else None

    def actions(exam, detail: str) -> str:
        mine = exam.assigned_to_id == user_id
        claim_action = f"{claim_url[0]}{exam.pk}{claim_url[1]}"
        forms = ""
        if claim and exam.status == ExamStatus.IN_READING and mine:
            forms += (
                f'<form method="post" action="{claim_action}" class="inline claim">{csrf}'
                f'<button type="submit">{resume}</button></form>'
            )
        elif claim and ((exam.status == ExamStatus.ASSIGNED and mine) or take):
            forms += (
                f'<form method="post" action="{claim_action}" class="inline claim">{csrf}{back_to_worklist}'
                f'<button type="submit">{read}</button></form>'
            )
        if take:
            forms += (
                f'<form method="post" action="{take_url[0]}{exam.pk}{take_url[1]}" class="inline">{csrf}'
                f'<input type="hidden" name="next" value="{detail}">'
                f'<button type="submit" class="take secondary outline">{take_label}</button></form>'
            )
        return f'<td class="actions">{forms}</td>'

    rows = []
    for exam in exams:
        pk, tz_name = exam.pk, exam.site.timezone
        detail = f"{detail_url[0]}{pk}{detail_url[1]}"
        priority = escape(exam.priority)
        title = f' title="{escape(exam.routing_reason)}"' if exam.routing_reason else ""
        deadline, deadline_class = "—", ""
        if exam.deadline_at:
            deadline = f'<span data-testid="deadline">{when(exam.deadline_at, tz_name)}</span>'
            if getattr(exam, "countdown", ""):
                deadline += f' <span class="countdown" data-testid="countdown">{escape(exam.countdown)}</span>'
        if state := getattr(exam, "deadline_state", ""):
            deadline_class = f' class="deadline deadline-{escape(state)}"'
        badges = ""
        if exam.status == ExamStatus.RECEIVING:
            n = exam.number_of_instances
            images = escape(ngettext("%(n)s image reçue", "%(n)s images reçues", n) % {"n": n})
            badges += f' <span class="badge receiving" title="{still_arriving}">{images}</span>'
        if exam.new_series_at:
            badges += new_series
        if exam.in_pool:
            badges += pool
        sex = f" ({escape(exam.patient_sex)})" if exam.patient_sex else ""
        description = escape(exam.study_description) if exam.study_description else no_description
        reader = escape(str(exam.assigned_to)) if exam.assigned_to_id else "—"
        row = (
            f'<tr class="priority-{priority.lower()}" data-exam-id="{pk}" data-priority="{priority}"{title}>'
            f'<td><span class="badge priority-{priority.lower()}">{priorities.get(exam.priority, priority)}</span></td>'
            f"<td>{escape(str(exam.site))}</td><td>{escape(exam.modality)}</td>"
            f'<td><a href="{detail}">{description}</a></td>'
            f"<td>{escape(person_name(exam.patient_name))}{sex}</td>"
            f"<td>{when(exam.received_at, tz_name)}</td>"
            f"<td{deadline_class}>{deadline}</td>"
            f"<td>{statuses.get(exam.status, escape(exam.status))}{badges}</td>"
            f"<td>{reader}</td>"
        )
        if take or claim:
            row += actions(exam, detail)
        rows.append(row + "</tr>")
    return mark_safe("\n".join(rows))  # noqa: S308 - every value interpolated above is escaped
