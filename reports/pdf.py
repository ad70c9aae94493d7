"""The PDF of a signed report (ReportLab): what the site files, prints and shows the patient.

French layout: the site's letterhead, the patient, the exam, the report's
sections, the signer, then each signed addendum. Times are shown in the site's
time zone. The document is a function of the report *version* (the frozen
report and the addenda signed up to a given one): ReportLab's ``invariant``
mode fixes the creation date and the document id, so the same version renders
to the same bytes, and a retried delivery sends the same document.

Page streams are left uncompressed: a report is a few kilobytes of text, and
tests (or a site's archive audit) can find the text in the bytes. Only the 14
standard PDF fonts are used (WinAnsi encoding: French accents, œ, €, the
middle dot); a character outside it is drawn as a blank, never an error.
"""

from __future__ import annotations

import datetime
import zoneinfo
from io import BytesIO
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import HRFlowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from core.templatetags.dicom import person_name
from reports.models import Addendum, Report

SEX_LABELS = {"M": gettext_lazy("masculin"), "F": gettext_lazy("féminin"), "O": gettext_lazy("autre")}


def _text(value: str) -> str:
    """Plain text as ReportLab Paragraph markup: escaped, line breaks kept."""
    return escape(value.strip()).replace("\r\n", "\n").replace("\n", "<br/>")


def _local(moment: datetime.datetime | None, tz: zoneinfo.ZoneInfo) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(tz)
    return _("%(date)s à %(time)s") % {"date": local.strftime("%d/%m/%Y"), "time": local.strftime("%H:%M")}


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontName="Helvetica", fontSize=10, leading=13)
    return {
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=8.5, leading=11, textColor=colors.HexColor("#444444")),
        "site": ParagraphStyle("site", parent=body, fontName="Helvetica-Bold", fontSize=13, leading=16),
        "title": ParagraphStyle("title", parent=body, fontName="Helvetica-Bold", fontSize=14, leading=18),
        "heading": ParagraphStyle(
            "heading", parent=body, fontName="Helvetica-Bold", fontSize=10.5, leading=14, spaceBefore=8
        ),
        "critical": ParagraphStyle(
            "critical", parent=body, fontName="Helvetica-Bold", textColor=colors.HexColor("#b00020")
        ),
        "right": ParagraphStyle("right", parent=body, alignment=TA_RIGHT),
    }


def report_addenda_for_version(*, report: Report, up_to: Addendum | None = None) -> list[Addendum]:
    """The signed addenda of ``report`` in signing order, up to and including ``up_to`` (all if None)."""
    addenda = list(report.addenda.order_by("signed_at", "id"))
    if up_to is None:
        return addenda
    return [a for a in addenda if (a.signed_at, a.pk) <= (up_to.signed_at, up_to.pk)]


def report_pdf(*, report: Report, up_to: Addendum | None = None) -> bytes:
    """Render the signed ``report`` (with its addenda up to ``up_to``, all if None) as PDF bytes.

    Rendered in the platform's language (LANGUAGE_CODE, French), whatever the
    language of the request or worker that asks for it.

    Raises:
        ValueError: the report is not signed (a draft is never rendered for the site).
    """
    if not report.is_signed:
        raise ValueError("only a signed report is rendered")
    with translation.override(settings.LANGUAGE_CODE):
        return _render(report, report_addenda_for_version(report=report, up_to=up_to))


def _render(report: Report, addenda: list[Addendum]) -> bytes:
    exam = report.exam
    site = exam.site
    tz = zoneinfo.ZoneInfo(site.timezone)
    s = _styles()
    story: list = []

    # Letterhead: the site, its address, its GHT; the document title on the right.
    letterhead = [Paragraph(_text(site.name), s["site"])]
    if site.address:
        letterhead.append(Paragraph(_text(site.address), s["small"]))
    if site.duty_phone:
        letterhead.append(Paragraph(_text(_("Poste de garde : %(phone)s") % {"phone": site.duty_phone}), s["small"]))
    letterhead.append(Paragraph(_text(site.ght.name), s["small"]))
    letterhead.append(Paragraph(_text(_("FINESS %(finess)s") % {"finess": site.finess}), s["small"]))
    title = [
        Paragraph(_text(_("Compte rendu d'imagerie")), s["title"]),
        Paragraph(_text(_("Télé-interprétation")), s["small"]),
    ]
    header = Table([[letterhead, title]], colWidths=[100 * mm, 70 * mm])
    header.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("ALIGN", (1, 0), (1, 0), "RIGHT")]))
    story += [header, Spacer(1, 4 * mm), HRFlowable(width="100%", color=colors.grey), Spacer(1, 3 * mm)]

    # Patient and exam, side by side.
    birth = exam.patient_birth_date.strftime("%d/%m/%Y") if exam.patient_birth_date else ""
    patient_rows = [
        (_("Patient"), person_name(exam.patient_name)),
        (_("Né(e) le"), birth),
        (_("Sexe"), str(SEX_LABELS[exam.patient_sex]) if exam.patient_sex in SEX_LABELS else ""),
        (_("IPP"), exam.patient_id),
    ]
    exam_rows = [
        (_("Examen"), exam.study_description),
        (_("Modalité"), exam.modality),
        (_("Date"), _local(exam.study_datetime, tz)),
        (_("N° d'accession"), exam.accession_number),
    ]
    if exam.referring_physician_name:
        exam_rows.append((_("Demandeur"), person_name(exam.referring_physician_name)))

    def cells(rows: list[tuple[str, str]]) -> list[Paragraph]:
        return [Paragraph(f"<b>{_text(label)}</b> : {_text(value)}", s["body"]) for label, value in rows]

    identity = Table([[cells(patient_rows), cells(exam_rows)]], colWidths=[85 * mm, 85 * mm])
    identity.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BOX", (0, 0), (-1, -1), 0.5, colors.grey),
                ("INNERGRID", (0, 0), (-1, -1), 0.5, colors.grey),
            ]
        )
    )
    story += [identity, Spacer(1, 4 * mm)]

    if report.critical_finding:
        story.append(Paragraph(_text(_("RÉSULTAT CRITIQUE : communiqué en urgence à l'établissement.")), s["critical"]))

    sections = [
        (_("Indication"), report.indication),
        (_("Technique"), report.technique),
        (_("Dosimétrie"), report.dose),
        (_("Résultats"), report.findings),
        (_("Conclusion"), report.conclusion),
    ]
    for label, value in sections:
        if value.strip():
            story += [Paragraph(_text(label), s["heading"]), Paragraph(_text(value), s["body"])]

    story += [Spacer(1, 6 * mm), HRFlowable(width="100%", color=colors.grey), Spacer(1, 2 * mm)]
    story.append(
        Paragraph(
            _text(
                _("Signé électroniquement par %(name)s (RPPS %(rpps)s) le %(when)s.")
                % {"name": report.signer_name, "rpps": report.signer_rpps, "when": _local(report.signed_at, tz)}
            ),
            s["body"],
        )
    )

    for addendum in addenda:
        story += [
            Spacer(1, 4 * mm),
            Paragraph(
                _text(
                    _("Addendum (%(kind)s) du %(when)s")
                    % {"kind": addendum.get_kind_display(), "when": _local(addendum.signed_at, tz)}
                ),
                s["heading"],
            ),
            Paragraph(_text(addendum.text), s["body"]),
            Paragraph(
                _text(
                    _("Signé par %(name)s (RPPS %(rpps)s).")
                    % {"name": addendum.signer_name, "rpps": addendum.signer_rpps}
                    if addendum.signer_rpps
                    # A critical finding's acknowledgement is recorded by the site's MERM, not a physician.
                    else _("Enregistré par %(name)s (établissement).") % {"name": addendum.signer_name}
                ),
                s["small"],
            ),
        ]

    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=_("Compte rendu d'imagerie"),
        author=report.signer_name,
        creator="Téléradio",
        producer="Téléradio",
        subject="",
        # Fixed creation date and document id: the same version gives the same bytes.
        invariant=1,
        pageCompression=0,
    )

    def on_page(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawRightString(
            A4[0] - 20 * mm, 10 * mm, _("Examen n° %(id)s – page %(page)s") % {"id": exam.pk, "page": doc.page}
        )
        canvas.restoreState()

    document.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()
