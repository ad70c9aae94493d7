"""The Modality Worklist against dcmtk's findscu and pynetdicom, as scanners query it, on real PostgreSQL."""

import contextlib
import datetime
import re
import select
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import pydicom
import pytest
from django.core.management import call_command
from django.utils import timezone
from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.sop_class import ModalityWorklistInformationFind

from core.models import AuditEvent
from dicom_gateway.simulator import worklist_find
from sites.tests.factories import ModalityFactory, SiteFactory, UserFactory
from tests.integration.conftest import run_dcmtk
from worklist import services
from worklist.models import ExamRequest
from worklist.tests.factories import ExamFactory, ExamRequestFactory

pytestmark = pytest.mark.integration

S = ExamRequest.Status


class World:
    """Two sites, each with a scanner and scheduled requests, and requests that must never show."""

    def __init__(self) -> None:
        self.site_a = SiteFactory(name="CH Site A")
        self.site_b = SiteFactory(name="CH Site B")
        self.ct_a = ModalityFactory(site=self.site_a, ae_title="CT_A")
        self.mr_a = ModalityFactory(site=self.site_a, ae_title="MR_A", modality_type="MR")
        self.ct_b = ModalityFactory(site=self.site_b, ae_title="CT_B")
        self.merm = UserFactory()
        self.n = 0
        now = timezone.now()
        yesterday = now - datetime.timedelta(days=1)
        self.lefevre = self.scheduled(
            self.site_a, self.ct_a, family="Lefèvre", given="Hélène", at=now, ins="250037512345678"
        )
        self.martin = self.scheduled(self.site_a, self.ct_a, family="Martin", given="Paul", at=yesterday)
        self.irm = self.scheduled(self.site_a, self.mr_a, family="Durand", given="Zoé", at=now, modality="MR")
        self.anywhere = self.scheduled(self.site_a, None, family="Bernard", given="Luc", at=now)
        self.site_b_request = self.scheduled(self.site_b, self.ct_b, family="Lefebvre", given="Anne", at=now)
        # Never on a worklist: not validated, cancelled, already matched.
        ExamRequestFactory(site=self.site_a, created_by=self.merm, patient_family_name="Requested")
        cancelled = self.scheduled(self.site_a, self.ct_a, family="Cancelled", given="X", at=now)
        ExamRequest.objects.filter(pk=cancelled.pk).update(status=S.CANCELLED)
        matched = self.scheduled(self.site_a, self.ct_a, family="Matched", given="X", at=now)
        ExamRequest.objects.filter(pk=matched.pk).update(status=S.DONE, exam=ExamFactory(site=self.site_a))

    def scheduled(self, site, station, *, family, given, at, modality="CT", ins=""):
        self.n += 1
        return ExamRequestFactory(
            site=site,
            created_by=self.merm,
            status=S.SCHEDULED,
            patient_family_name=family,
            patient_given_name=given,
            ins=ins,
            ins_status="qualified" if ins else "",
            accession_number=f"TRI{self.n:09d}",
            study_instance_uid=f"1.2.826.0.1.3680043.10.7.{self.n}",
            catalogue_item__modality=modality,
            catalogue_item__name="IRM encéphale AVC" if modality == "MR" else "Scanner cérébral sans injection",
            scheduled_modality=station,
            validated_at=at,
            protocol="Protocole AVC",
        )


@pytest.fixture
def world(transactional_db):
    return World()


RETURN_KEYS = [
    "SpecificCharacterSet=ISO_IR 192",
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "AccessionNumber",
    "StudyInstanceUID",
    "RequestedProcedureDescription",
    "RequestedProcedurePriority",
    "ScheduledProcedureStepSequence[0].Modality",
    "ScheduledProcedureStepSequence[0].ScheduledStationAETitle",
    "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate",
    "ScheduledProcedureStepSequence[0].ScheduledProcedureStepDescription",
]


def findscu(gateway, tmp_path: Path, *keys: str, calling: str = "CT_A", options: tuple[str, ...] = ()):
    """findscu -W with ``keys`` (``Keyword=value`` overrides the default return keys); the answers, read back."""
    wanted = {k.split("=")[0]: k for k in RETURN_KEYS}
    wanted.update({k.split("=")[0]: k for k in keys})
    out = tmp_path / f"find{len(list(tmp_path.glob('find*')))}"
    out.mkdir()
    args = ["-W", *options, "-aet", calling, "-aec", "TELERADIO", "-X", "-od", str(out)]
    for key in wanted.values():
        args += ["-k", key]
    result = run_dcmtk("findscu", *args, "127.0.0.1", str(gateway.port))
    answers = [pydicom.dcmread(path) for path in sorted(out.glob("rsp*.dcm"))]
    return result, answers


def _accessions(answers) -> set[str]:
    return {a.AccessionNumber for a in answers}


def test_findscu_gets_exactly_its_sites_scheduled_requests(gateway, world, tmp_path):
    result, answers = findscu(gateway, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _accessions(answers) == {
        world.lefevre.accession_number,
        world.martin.accession_number,
        world.irm.accession_number,
        world.anywhere.accession_number,
    }
    lefevre = next(a for a in answers if a.AccessionNumber == world.lefevre.accession_number)
    assert lefevre.SpecificCharacterSet == "ISO_IR 192"
    assert lefevre.PatientName == "LEFÈVRE^Hélène"  # UTF-8 both ways
    assert lefevre.StudyInstanceUID == world.lefevre.study_instance_uid
    assert lefevre.PatientBirthDate == world.lefevre.patient_birth_date.strftime("%Y%m%d")
    assert lefevre.RequestedProcedurePriority == "HIGH"
    step = lefevre.ScheduledProcedureStepSequence[0]
    assert step.ScheduledStationAETitle == "CT_A" and step.Modality == "CT"
    assert step.ScheduledProcedureStepDescription == "Scanner cérébral sans injection – Protocole AVC"
    assert "OtherPatientIDsSequence" not in lefevre  # not asked for

    event = AuditEvent.objects.filter(action="mwl.find").latest("pk")
    assert event.detail == {"calling_ae": "CT_A", "site": world.site_a.pk, "answers": 4}
    assert "Hélène" not in str(event.detail) and "LEF" not in str(event.detail)


def test_site_b_sees_only_its_own(gateway, world, tmp_path):
    result, answers = findscu(gateway, tmp_path, calling="CT_B")
    assert result.returncode == 0, result.stderr
    assert _accessions(answers) == {world.site_b_request.accession_number}


# One world for every case: each transactional test costs seconds of TRUNCATE.
MATCHING_CASES = [
    ("PatientName=LEF*", {"lefevre"}),  # not LEFEBVRE of site B
    ("PatientName=lefevre^h?lene", {"lefevre"}),
    ("PatientName=LEFÈVRE^Hélène", {"lefevre"}),
    ("PatientName=*^Zo?", {"irm"}),
    ("ScheduledProcedureStepSequence[0].Modality=MR", {"irm"}),
    # The station's own requests and those of no station in particular.
    ("ScheduledProcedureStepSequence[0].ScheduledStationAETitle=CT_A", {"lefevre", "martin", "anywhere"}),
    ("ScheduledProcedureStepSequence[0].ScheduledStationAETitle=MR_A", {"irm", "anywhere"}),
    ("ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=20000101-20000102", set()),
    ("ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=-20000102", set()),
    (
        "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=20000101-",
        {"lefevre", "martin", "irm", "anywhere"},
    ),
    ("PatientID=NOBODY", set()),
]


def _local_day(request: ExamRequest) -> str:
    return request.validated_at.astimezone(ZoneInfo(request.site.timezone)).strftime("%Y%m%d")


def test_findscu_matching_keys(gateway, world, tmp_path):
    today, yesterday = _local_day(world.lefevre), _local_day(world.martin)  # in the site's zone
    date = "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate"
    dates = [
        (f"{date}={today}", {"lefevre", "irm", "anywhere"}),
        (f"{date}={yesterday}-{yesterday}", {"martin"}),
        (f"{date}=-{yesterday}", {"martin"}),
        (f"{date}={today}-", {"lefevre", "irm", "anywhere"}),
        (f"{date}={yesterday}-{today}", {"lefevre", "martin", "irm", "anywhere"}),
    ]
    for key, expected in MATCHING_CASES + dates:
        result, answers = findscu(gateway, tmp_path, key)
        assert result.returncode == 0, result.stdout + result.stderr
        assert _accessions(answers) == {getattr(world, name).accession_number for name in expected}, key


def test_a_qualified_ins_is_given_when_asked(gateway, world, tmp_path):
    _, answers = findscu(
        gateway, tmp_path, f"AccessionNumber={world.lefevre.accession_number}", "OtherPatientIDsSequence[0].PatientID"
    )
    [answer] = answers
    assert answer.OtherPatientIDsSequence[0].PatientID == "250037512345678"


def test_an_unknown_ae_is_rejected_at_association(gateway, world, tmp_path):
    result, answers = findscu(gateway, tmp_path, calling="INTRUDER")
    assert result.returncode != 0
    assert "Rejected" in result.stdout + result.stderr
    assert answers == []
    assert AuditEvent.objects.filter(action="gateway.association_rejected", detail__calling_ae="INTRUDER").exists()
    assert not AuditEvent.objects.filter(action="mwl.find").exists()


@contextlib.contextmanager
def _scanner(gateway, *contexts: str):
    """pynetdicom as the scanner CT_A, associated with the gateway for ``contexts`` (the MWL by default)."""
    ae = AE(ae_title="CT_A")
    for context in contexts or (ModalityWorklistInformationFind,):
        ae.add_requested_context(context)
    assoc = ae.associate("127.0.0.1", gateway.port, ae_title="TELERADIO")
    assert assoc.is_established
    try:
        yield assoc
    finally:
        assoc.release()


def test_only_the_worklist_is_offered_not_query_retrieve(gateway, world):
    from pynetdicom.sop_class import PatientRootQueryRetrieveInformationModelFind

    with _scanner(gateway, PatientRootQueryRetrieveInformationModelFind, ModalityWorklistInformationFind) as assoc:
        accepted = {cx.abstract_syntax for cx in assoc.accepted_contexts}
        assert accepted == {ModalityWorklistInformationFind}


@pytest.mark.filterwarnings("ignore:Invalid value for VR DA")
def test_pynetdicom_as_a_scanner_with_accents_and_a_bad_date(gateway, world):
    with _scanner(gateway) as assoc:
        query = Dataset()
        query.SpecificCharacterSet = "ISO_IR 192"
        query.PatientName = "*^hélène"
        query.StudyInstanceUID = ""
        query.ScheduledProcedureStepSequence = [Dataset()]
        responses = list(assoc.send_c_find(query, ModalityWorklistInformationFind))
        statuses = [int(status.Status) for status, _ in responses]
        assert statuses == [0xFF00, 0x0000]
        answer = responses[0][1]
        assert answer.PatientName == "LEFÈVRE^Hélène"
        assert answer.StudyInstanceUID == world.lefevre.study_instance_uid
        assert answer.ScheduledProcedureStepSequence[0].ScheduledStationAETitle == "CT_A"  # whole step

        bad = Dataset()
        bad.ScheduledProcedureStepSequence = [Dataset()]
        bad.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate = "2026"
        statuses = [int(status.Status) for status, _ in assoc.send_c_find(bad, ModalityWorklistInformationFind)]
        assert statuses == [0xA900]


def test_the_simulator_reads_the_worklist_like_a_scanner(gateway, world):
    entries = worklist_find(host="127.0.0.1", port=gateway.port, calling_ae="MR_A")
    assert {e.AccessionNumber for e in entries} == {world.irm.accession_number, world.anywhere.accession_number}


def test_simulate_scanner_from_worklist_sends_a_study_matched_to_its_request(gateway, world, capsys):
    call_command(
        "simulate_scanner",
        "--ae",
        "CT_A",
        "--from-worklist",
        "--accession",
        world.lefevre.accession_number,
        "--count",
        "3",
        "--port",
        str(gateway.port),
        "--called-ae",
        "TELERADIO",
    )
    assert "3 instance(s) stored" in capsys.readouterr().out

    services.exams_match_requests()

    request = ExamRequest.objects.select_related("exam").get(pk=world.lefevre.pk)
    assert request.status == S.DONE
    assert request.match_method == ExamRequest.MatchMethod.STUDY_UID
    exam = request.exam
    assert exam.study_instance_uid == world.lefevre.study_instance_uid
    assert exam.accession_number == world.lefevre.accession_number
    assert exam.patient_name == "LEFÈVRE^Hélène" and exam.patient_id == world.lefevre.patient_id
    assert exam.site == world.site_a


def test_simulate_scanner_from_an_empty_worklist_says_so(gateway, world):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no worklist entry"):
        call_command(
            "simulate_scanner", "--ae", "CT_B", "--from-worklist", "--accession", "NOPE", "--port", str(gateway.port)
        )


def test_a_study_sent_by_storescu_with_the_accession_number_attaches_to_its_request(gateway, world, tmp_path):
    """A scanner that makes its own StudyInstanceUID but keeps the worklist's AccessionNumber."""
    from dicom_gateway.tests.dicom_factories import encode, make_ct_image

    ds = make_ct_image(
        PatientName="MARTIN^Paul",
        PatientID=world.martin.patient_id,
        AccessionNumber=world.martin.accession_number,
        Modality="CT",
    )
    path = tmp_path / "ct.dcm"
    path.write_bytes(encode(ds))
    result = run_dcmtk("storescu", "-aet", "CT_A", "-aec", "TELERADIO", "127.0.0.1", str(gateway.port), str(path))
    assert result.returncode == 0, result.stderr

    assert services.exams_match_requests()
    request = ExamRequest.objects.select_related("exam").get(pk=world.martin.pk)
    assert request.status == S.DONE
    assert request.match_method == ExamRequest.MatchMethod.ACCESSION
    assert request.exam.study_instance_uid == ds.StudyInstanceUID != world.martin.study_instance_uid
    # Site B's request with another accession number is untouched.
    assert ExamRequest.objects.get(pk=world.site_b_request.pk).status == S.SCHEDULED


# --- Error paths: the gateway answers with a status and keeps serving. -------------------------


def test_an_unexpected_error_answers_unable_to_process_and_the_gateway_keeps_serving(
    gateway, world, tmp_path, monkeypatch, caplog
):
    def broken(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr("dicom_gateway.mwl.mwl_find", broken)
    with caplog.at_level("ERROR", logger="dicom_gateway"):
        result, answers = findscu(gateway, tmp_path, options=("--debug",))
    output = result.stdout + result.stderr
    assert answers == []
    # findscu's --debug dumps the final C-FIND-RSP.
    assert re.search(r"DIMSE Status\s*: 0xc000: Failed: Unable to process", output), output
    [record] = [r for r in caplog.records if "C-FIND" in r.getMessage()]
    assert record.levelname == "ERROR" and "CT_A" in record.getMessage()
    assert record.exc_info and "database on fire" in str(record.exc_info[1])  # with its traceback

    monkeypatch.undo()
    echo = run_dcmtk("echoscu", "-aet", "CT_A", "-aec", "TELERADIO", "127.0.0.1", str(gateway.port))
    assert echo.returncode == 0, echo.stdout + echo.stderr
    result, answers = findscu(gateway, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(answers) == 4


def test_a_c_cancel_ends_the_answers_with_a_cancel_status(gateway, world, monkeypatch):
    """The scanner cancels after the first answer: status 0xFE00, no further answers, the association goes on."""
    from dicom_gateway import mwl

    real_find = mwl.mwl_find
    cancel_sent = threading.Event()
    calls = []

    def answers_until_cancelled(**kwargs):
        found = real_find(**kwargs)
        calls.append(len(found))
        if len(calls) > 1:
            yield from found
            return
        yield found[0]
        # The next answer is asked for only once the scanner has sent its C-CANCEL and the
        # gateway's socket has it to read: no race between the two.
        assert cancel_sent.wait(10)
        [association] = gateway.server.associations()
        assert select.select([association.sock], [], [], 10)[0]
        yield from found[1:]

    monkeypatch.setattr("dicom_gateway.mwl.mwl_find", answers_until_cancelled)
    with _scanner(gateway) as assoc:
        query = Dataset()
        query.PatientName = ""
        query.AccessionNumber = ""
        query.ScheduledProcedureStepSequence = [Dataset()]
        [context] = assoc.accepted_contexts
        received = []
        for status, answer in assoc.send_c_find(query, ModalityWorklistInformationFind, msg_id=7):
            received.append((int(status.Status), answer))
            if len(received) == 1:
                assoc.send_c_cancel(7, context.context_id)
                cancel_sent.set()
        assert calls == [4]  # four requests were there to answer
        assert [s for s, _ in received] == [0xFF00, 0xFE00]
        assert received[0][1].AccessionNumber == world.martin.accession_number  # the first: validated yesterday
        assert received[1][1] is None

        # The same association answers the next query in full.
        statuses = [int(s.Status) for s, _ in assoc.send_c_find(query, ModalityWorklistInformationFind, msg_id=8)]
        assert statuses == [0xFF00] * 4 + [0x0000]
