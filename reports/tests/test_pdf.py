"""The report PDF: a real PDF, in French, with the patient and the signer, the same bytes for the same version."""

import datetime
import shutil
import subprocess

import pytest

from reports.pdf import report_pdf
from reports.tests.signed import signed_addendum, signed_report
from worklist.tests.factories import ExamFactory


def literal(text: str) -> bytes:
    """``text`` as ReportLab writes it in an uncompressed page: WinAnsi, non-ASCII bytes in octal."""
    return b"".join(bytes([c]) if c < 128 else b"\\%o" % c for c in text.encode("cp1252"))


# Half an hour before the clocks go forward in Paris (01:00 UTC on 29 March 2026).
SIGNED_AT = datetime.datetime(2026, 3, 29, 0, 30, tzinfo=datetime.UTC)


@pytest.fixture
def report(site_a, radiologist_a):
    site_a.address = "2 avenue Foch\n29200 Brest"
    site_a.save(update_fields=["address"])
    exam = ExamFactory(
        site=site_a,
        status="REPORTED",
        patient_name="LE GALL^Anne-Marie",
        patient_birth_date=datetime.date(1950, 3, 2),
        study_datetime=SIGNED_AT - datetime.timedelta(hours=1),
    )
    return signed_report(exam=exam, signer=radiologist_a, signed_at=SIGNED_AT, critical_finding=True)


def test_it_renders_a_pdf_with_the_patient_the_site_and_the_signer(report):
    pdf = report_pdf(report=report)

    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert b"LE GALL Anne-Marie" in pdf
    assert report.exam.site.name.encode() in pdf
    assert report.signer_rpps.encode() in pdf
    assert b"02/03/1950" in pdf
    assert b"RPPS" in pdf


def test_it_shows_times_in_the_sites_time_zone(report):
    # 00:30 UTC is still winter time in Paris (UTC+1): 01:30, not 02:30.
    assert literal("29/03/2026 à 01:30") in report_pdf(report=report)


def test_it_escapes_markup_in_the_text(report):
    pdf = report_pdf(report=report)
    # "<b>" typed by the radiologist is drawn as text, not taken as bold markup.
    assert b"(Symboles : <) Tj" in pdf
    assert b"(> & | ^ ~ \\\\ fin.) Tj" in pdf


def test_it_mentions_a_critical_finding(report):
    assert literal("RÉSULTAT CRITIQUE") in report_pdf(report=report)


def test_the_same_version_gives_the_same_bytes(report, radiologist_a):
    first = report_pdf(report=report)
    assert report_pdf(report=report) == first

    addendum = signed_addendum(report=report, signer=radiologist_a, text="Complément : appel du Dr Kerjean.")
    amended = report_pdf(report=report)
    assert amended != first
    assert b"Kerjean" in amended
    # The version of the report alone is unchanged by a later addendum.
    assert report_pdf(report=report, up_to=None) == amended
    signed_addendum(report=report, signer=radiologist_a, text="Second complément.")
    assert report_pdf(report=report, up_to=addendum) == amended


def test_a_draft_is_not_rendered(site_a, radiologist_a):
    from reports.models import Report

    draft = Report.objects.create(exam=ExamFactory(site=site_a), author=radiologist_a)
    with pytest.raises(ValueError):
        report_pdf(report=draft)


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
def test_it_renders_to_an_image(report, tmp_path):
    source = tmp_path / "cr.pdf"
    source.write_bytes(report_pdf(report=report))
    subprocess.run(["pdftoppm", "-png", "-r", "50", str(source), str(tmp_path / "page")], check=True, timeout=60)
    assert list(tmp_path.glob("page*.png"))
