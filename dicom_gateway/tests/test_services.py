import datetime
import os
import time
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from core.models import AuditEvent
from dicom_gateway import statuses
from dicom_gateway.dicomweb_selectors import instance_list_for_exam
from dicom_gateway.services import COUNTS_EVERY_SECONDS, SeriesCache, counts_settle, instance_receive
from dicom_gateway.storage import FileSystemStorage
from dicom_gateway.tests.dicom_factories import encode, make_ct_image, make_dataset
from sites.tests.factories import ModalityFactory
from worklist.models import Exam, Instance, Series

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"


@pytest.fixture
def storage(tmp_path):
    return FileSystemStorage(tmp_path / "store")


@pytest.fixture
def modality(site_a):
    return ModalityFactory(site=site_a, ae_title="CT_SITE_A")


def _files(storage):
    return sorted(p for p in storage.root.rglob("*") if p.is_file() and p.parent != storage.tmp)


@pytest.mark.django_db
def test_it_stores_and_indexes_a_new_instance(modality, storage):
    ds = make_dataset()
    result = instance_receive(data=encode(ds), modality=modality, storage=storage)
    assert result.status == statuses.SUCCESS and result.created and result.new_exam
    exam = Exam.objects.get(study_instance_uid=ds.StudyInstanceUID)
    assert (exam.site, exam.source_modality, exam.status) == (modality.site, modality, "RECEIVING")
    assert (exam.number_of_series, exam.number_of_instances) == (1, 1)
    assert exam.received_bytes == result.size > 0
    instance = Instance.objects.get(sop_instance_uid=ds.SOPInstanceUID)
    assert storage.exists(instance.storage_key)
    assert ds.SOPInstanceUID not in instance.storage_key


@pytest.mark.django_db
def test_the_same_instance_twice_is_stored_once(modality, storage):
    data = encode(make_dataset())
    first = instance_receive(data=data, modality=modality, storage=storage)
    second = instance_receive(data=data, modality=modality, storage=storage)
    assert first.status == second.status == statuses.SUCCESS
    assert not second.created and not second.replaced
    assert Instance.objects.count() == 1
    assert Exam.objects.get().number_of_instances == 1
    assert len(_files(storage)) == 1


@pytest.mark.django_db
def test_a_changed_resend_replaces_the_instance_with_an_audit_event(
    modality, storage, django_capture_on_commit_callbacks
):
    ds = make_dataset(ImageOrientationPatient=[1, 0, 0, 0, 1, 0], ImagePositionPatient=[0, 0, 10])
    instance_receive(data=encode(ds), modality=modality, storage=storage)
    ds.StudyDescription = "Corrigé"
    ds.ImagePositionPatient = [0, 0, 12.5]
    with django_capture_on_commit_callbacks(execute=True):
        result = instance_receive(data=encode(ds), modality=modality, storage=storage)
    assert result.replaced
    assert Instance.objects.get().slice_position == 12.5
    assert len(_files(storage)) == 1  # the old file was removed after commit
    assert AuditEvent.objects.filter(action="instance.replaced").count() == 1


@pytest.mark.django_db
def test_a_study_resent_in_full_duplicates_nothing(modality, storage):
    study, series = generate_uid(), generate_uid()
    payloads = [
        encode(make_dataset(StudyInstanceUID=study, SeriesInstanceUID=series, InstanceNumber=i)) for i in range(5)
    ]
    for _ in range(2):
        for data in payloads:
            assert instance_receive(data=data, modality=modality, storage=storage).status == statuses.SUCCESS
    exam = Exam.objects.get()
    assert (exam.number_of_series, exam.number_of_instances) == (1, 5)
    assert Series.objects.get().number_of_instances == 5
    assert len(_files(storage)) == 5


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    [
        "CT_small.dcm",
        "MR_small.dcm",
        "MR_small_RLE.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "JPEG2000.dcm",
        "SC_rgb_jpeg_dcmtk.dcm",
        "image_dfl.dcm",
    ],
)
def test_it_accepts_pydicoms_test_files_whatever_their_transfer_syntax(modality, storage, name):
    data = (TEST_FILES / name).read_bytes()
    result = instance_receive(data=data, modality=modality, storage=storage)
    assert result.status == statuses.SUCCESS, result.reason
    assert Instance.objects.get().transfer_syntax_uid


@pytest.mark.django_db
def test_it_keeps_french_accents_in_latin1(modality, storage):
    ds = make_dataset(SpecificCharacterSet="ISO_IR 100", PatientName="LE BRIS^Anaïs")
    instance_receive(data=encode(ds), modality=modality, storage=storage)
    assert Exam.objects.get().patient_name == "LE BRIS^Anaïs"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"this is not DICOM at all" * 20, "unreadable"),
        (b"", "unreadable"),
    ],
)
def test_it_refuses_non_dicom_bytes(modality, storage, data, reason):
    result = instance_receive(data=data, modality=modality, storage=storage)
    assert result.status == statuses.CANNOT_UNDERSTAND
    assert reason in result.reason
    assert not Exam.objects.exists() and _files(storage) == []


@pytest.mark.django_db
def test_it_refuses_a_truncated_dataset(modality, storage):
    data = (TEST_FILES / "CT_small.dcm").read_bytes()
    result = instance_receive(data=data[:-5000], modality=modality, storage=storage)
    assert result.status == statuses.CANNOT_UNDERSTAND
    assert "truncated" in result.reason
    assert not Exam.objects.exists() and _files(storage) == []


@pytest.mark.django_db
@pytest.mark.parametrize("keyword", ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"])
def test_it_refuses_a_dataset_without_a_uid(modality, storage, keyword):
    ds = make_dataset()
    data = encode(ds)
    delattr(ds, keyword)
    ds.file_meta = None
    from io import BytesIO

    from pydicom import dcmread

    full = dcmread(BytesIO(data))
    delattr(full, keyword)
    buffer = BytesIO()
    full.save_as(buffer, enforce_file_format=False)
    result = instance_receive(data=buffer.getvalue(), modality=modality, storage=storage)
    assert result.status == statuses.CANNOT_UNDERSTAND
    assert keyword in result.reason


@pytest.mark.django_db
@pytest.mark.filterwarnings("ignore:Invalid value for VR UI", "ignore:The value length")
@pytest.mark.parametrize("bad", ["../../etc/passwd", "1.2/3", "1.2\x003", "1." + "2" * 199])
def test_it_refuses_hostile_uids_and_writes_nothing(modality, storage, bad):
    ds = make_dataset()
    ds.SOPInstanceUID = bad
    result = instance_receive(data=encode(ds), modality=modality, storage=storage)
    assert result.status == statuses.CANNOT_UNDERSTAND
    assert _files(storage) == []
    assert not any(".." in str(p) or "passwd" in str(p) for p in storage.root.rglob("*"))


@pytest.mark.django_db
def test_it_refuses_a_sop_class_that_does_not_match_the_context(modality, storage):
    result = instance_receive(
        data=encode(make_dataset()),
        modality=modality,
        storage=storage,
        abstract_syntax="1.2.840.10008.5.1.4.1.1.4",  # MR Image Storage
    )
    assert result.status == statuses.DATASET_DOES_NOT_MATCH_SOP_CLASS


@pytest.mark.django_db
def test_a_full_disk_answers_out_of_resources_and_indexes_nothing(modality, storage, monkeypatch):
    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    result = instance_receive(data=encode(make_dataset()), modality=modality, storage=storage)
    assert result.status == statuses.OUT_OF_RESOURCES
    assert not Exam.objects.exists()


@pytest.mark.django_db
def test_a_study_uid_of_another_site_is_refused(modality, storage, site_b):
    other = ModalityFactory(site=site_b, ae_title="CT_SITE_B")
    ds = make_dataset()
    instance_receive(data=encode(ds), modality=other, storage=storage)
    ds.SOPInstanceUID = generate_uid()
    result = instance_receive(data=encode(ds), modality=modality, storage=storage)
    assert result.status == statuses.CANNOT_UNDERSTAND
    assert Exam.objects.get().site == site_b
    assert Instance.objects.count() == 1


@pytest.mark.django_db
def test_a_late_series_is_attached_and_flagged(modality, storage):
    ds = make_dataset()
    instance_receive(data=encode(ds), modality=modality, storage=storage)
    Exam.objects.update(status="ASSIGNED")
    late = make_dataset(StudyInstanceUID=ds.StudyInstanceUID)
    instance_receive(data=encode(late), modality=modality, storage=storage)
    exam = Exam.objects.get()
    assert exam.status == "ASSIGNED"
    assert exam.number_of_series == 2
    assert exam.new_series_at is not None


@pytest.mark.django_db
def test_an_urgent_modality_makes_urgent_exams(site_a, storage):
    urgent = ModalityFactory(site=site_a, ae_title="CT_URG", urgent_by_default=True)
    instance_receive(data=encode(make_dataset()), modality=urgent, storage=storage)
    assert Exam.objects.get().priority == "URGENT"


@pytest.mark.django_db
def test_a_stat_request_makes_an_urgent_exam(modality, storage):
    instance_receive(data=encode(make_dataset(RequestedProcedurePriority="STAT")), modality=modality, storage=storage)
    assert Exam.objects.get().priority == "URGENT"


@pytest.mark.django_db(transaction=True)
def test_a_database_outage_answers_out_of_resources(modality, storage):
    from django.db import connection

    data = encode(make_dataset())
    modality.site  # noqa: B018 - loaded while the database is up
    real_port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = "1"  # nothing listens there: a real connection failure
    try:
        result = instance_receive(data=data, modality=modality, storage=storage)
    finally:
        connection.close()
        connection.settings_dict["PORT"] = real_port
    assert result.status == statuses.OUT_OF_RESOURCES
    assert "database" in result.reason
    assert not Exam.objects.exists()
    # The file was durable before the index failed; the scanner's retry reuses it.
    retry = instance_receive(data=data, modality=modality, storage=storage)
    assert retry.status == statuses.SUCCESS
    assert len(_files(storage)) == 1


# --- the per-association series cache (one statement per instance of a known series) ---


def _series_payloads(count, **overrides):
    study, series = generate_uid(), generate_uid()
    return [
        encode(make_dataset(StudyInstanceUID=study, SeriesInstanceUID=series, InstanceNumber=i, **overrides))
        for i in range(count)
    ]


@pytest.mark.django_db(transaction=True)  # as in the gateway: no outer transaction, no savepoint
def test_the_next_instances_of_a_known_series_take_one_query(modality, storage, django_assert_num_queries):
    first, second, third = _series_payloads(3)
    cache = SeriesCache()
    assert instance_receive(data=first, modality=modality, storage=storage, series_cache=cache).new_exam
    assert len(cache) == 1
    with django_assert_num_queries(1) as captured:
        result = instance_receive(data=second, modality=modality, storage=storage, series_cache=cache)
    # One autocommitted INSERT (its own transaction), once the file is durable.
    assert [q["sql"].split()[0] for q in captured.captured_queries] == ["INSERT"]
    assert result.status == statuses.SUCCESS and result.created and result.size == len(second)
    instance_receive(data=third, modality=modality, storage=storage, series_cache=cache)
    exam = Exam.objects.get()
    assert result.exam_id == exam.pk
    # The counts are owed to the exam until the association recounts (here: it closes).
    assert exam.number_of_instances == 1 and list(cache.owed) == [exam.pk]
    counts_settle(cache)
    assert not cache.owed
    exam.refresh_from_db()
    assert (exam.number_of_series, exam.number_of_instances) == (1, 3)
    assert exam.received_bytes == len(first) + len(second) + len(third)
    assert Series.objects.get().number_of_instances == 3
    assert sorted(Instance.objects.values_list("instance_number", flat=True)) == [0, 1, 2]
    assert len(_files(storage)) == 3


@pytest.mark.django_db(transaction=True)
def test_a_sending_association_recounts_at_most_every_half_second(modality, storage, monkeypatch):
    payloads = _series_payloads(4)
    cache = SeriesCache()
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    for data in payloads[:3]:  # the first by the full path (counted at once), two owed
        instance_receive(data=data, modality=modality, storage=storage, series_cache=cache)
        clock[0] += 0.2
    exam = Exam.objects.get()
    assert exam.number_of_instances == 1 and cache.owed == {exam.pk: 1000.2}
    clock[0] = 1000.2 + COUNTS_EVERY_SECONDS
    instance_receive(data=payloads[3], modality=modality, storage=storage, series_cache=cache)
    exam.refresh_from_db()
    assert (exam.number_of_instances, exam.received_bytes) == (4, sum(len(p) for p in payloads))
    assert Series.objects.get().number_of_instances == 4
    assert exam.last_instance_at == Instance.objects.latest("received_at").received_at
    assert not cache.owed


@pytest.mark.django_db(transaction=True)
def test_an_exam_the_gateway_still_owes_counts_is_recounted_before_ready(modality, storage):
    from django.utils import timezone

    from worklist.services import exams_mark_stable

    cache = SeriesCache()
    for data in _series_payloads(3):
        instance_receive(data=data, modality=modality, storage=storage, series_cache=cache)
    # The gateway died before recounting: READY counts from the rows.
    assert Exam.objects.get().number_of_instances == 1
    later = timezone.now() + datetime.timedelta(seconds=60)
    assert len(exams_mark_stable(now=later, quiet_seconds=30)) == 1
    exam = Exam.objects.get()
    assert (exam.status, exam.number_of_instances) == ("READY", 3)
    assert Series.objects.get().number_of_instances == 3


@pytest.mark.django_db(transaction=True)
def test_an_uncounted_instance_keeps_its_exam_receiving(modality, storage):
    from django.utils import timezone

    from worklist.services import exams_mark_stable

    cache = SeriesCache()
    first, second = _series_payloads(2)
    instance_receive(data=first, modality=modality, storage=storage, series_cache=cache)
    Exam.objects.update(last_instance_at=timezone.now() - datetime.timedelta(seconds=40))
    instance_receive(data=second, modality=modality, storage=storage, series_cache=cache)  # owed, not counted
    # By the exam row alone it is quiet; its newest instance says otherwise.
    assert exams_mark_stable(quiet_seconds=30) == []
    assert Exam.objects.get().status == "RECEIVING"


@pytest.mark.django_db(transaction=True)
def test_both_paths_index_the_slice_position_and_the_viewer_follows_it(modality, storage):
    # Numbered head to feet, as CT scanners often do: instance numbers run against the normal.
    study, series = generate_uid(), generate_uid()
    payloads = [
        encode(
            make_dataset(
                StudyInstanceUID=study,
                SeriesInstanceUID=series,
                InstanceNumber=i + 1,
                ImageOrientationPatient=[1, 0, 0, 0, 1, 0],
                ImagePositionPatient=[-125, -125, 100 - 2.5 * i],
            )
        )
        for i in range(4)
    ]
    cache = SeriesCache()
    for data in payloads:  # the first by pydicom, the next ones by quickscan
        assert instance_receive(data=data, modality=modality, storage=storage, series_cache=cache).status == 0
    positions = dict(Instance.objects.values_list("instance_number", "slice_position"))
    assert positions == {1: 100.0, 2: 97.5, 3: 95.0, 4: 92.5}
    ordered = instance_list_for_exam(exam=Exam.objects.get())
    assert [i.instance_number for i in ordered] == [4, 3, 2, 1]


@pytest.mark.django_db
def test_images_without_a_position_follow_by_instance_number(modality, storage):
    study, series = generate_uid(), generate_uid()
    for number, position in [(3, None), (1, None), (2, [0, 0, 5]), (4, [0, 0, -5])]:
        geometry = {"ImagePositionPatient": position, "ImageOrientationPatient": [1, 0, 0, 0, 1, 0]} if position else {}
        ds = make_dataset(StudyInstanceUID=study, SeriesInstanceUID=series, InstanceNumber=number, **geometry)
        assert instance_receive(data=encode(ds), modality=modality, storage=storage).status == 0
    ordered = instance_list_for_exam(exam=Exam.objects.get())
    assert [i.instance_number for i in ordered] == [4, 2, 1, 3]


@pytest.mark.django_db
def test_a_resend_through_the_series_cache_duplicates_nothing(modality, storage):
    payloads = _series_payloads(4)
    cache = SeriesCache()
    for _ in range(2):
        for data in payloads:
            result = instance_receive(data=data, modality=modality, storage=storage, series_cache=cache)
            assert result.status == statuses.SUCCESS
    counts_settle(cache)
    exam = Exam.objects.get()
    assert (exam.number_of_series, exam.number_of_instances) == (1, 4)
    assert Series.objects.get().number_of_instances == 4
    assert Instance.objects.count() == 4


@pytest.mark.django_db
def test_a_changed_resend_through_the_series_cache_still_replaces(modality, storage):
    ds = make_dataset()
    cache = SeriesCache()
    instance_receive(data=encode(ds), modality=modality, storage=storage, series_cache=cache)
    ds.StudyDescription = "Corrigé"
    result = instance_receive(data=encode(ds), modality=modality, storage=storage, series_cache=cache)
    assert result.replaced
    assert Instance.objects.count() == 1 and Exam.objects.get().number_of_instances == 1


@pytest.mark.django_db
def test_a_cached_series_whose_exam_was_deleted_is_indexed_again(modality, storage):
    first, second = _series_payloads(2)
    cache = SeriesCache()
    instance_receive(data=first, modality=modality, storage=storage, series_cache=cache)
    Exam.objects.all().delete()
    result = instance_receive(data=second, modality=modality, storage=storage, series_cache=cache)
    assert result.status == statuses.SUCCESS and result.new_exam
    assert Exam.objects.get().number_of_instances == 1
    assert cache[Series.objects.get().series_instance_uid].exam_id == result.exam_id


@pytest.mark.django_db
def test_a_cached_series_uid_reused_in_another_study_is_refused(modality, storage):
    ds = make_dataset()
    cache = SeriesCache()
    instance_receive(data=encode(ds), modality=modality, storage=storage, series_cache=cache)
    other = make_dataset(SeriesInstanceUID=ds.SeriesInstanceUID)  # same series UID, new study UID
    result = instance_receive(data=encode(other), modality=modality, storage=storage, series_cache=cache)
    assert result.status == statuses.CANNOT_UNDERSTAND
    assert Instance.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("cut", [0, 1, 100, 300_000])
def test_a_large_image_is_parsed_without_its_pixels_but_its_truncation_is_seen(modality, storage, cut):
    # Pixel data above parse_part10's defer size is not copied into the Dataset; a value
    # cut short must still be refused, and an entire one accepted.
    from dicom_gateway.services import parse_part10

    data = encode(make_ct_image(rows=512, columns=512))
    assert len(parse_part10(data).PixelData) == 512 * 512 * 2
    result = instance_receive(data=data[: len(data) - cut], modality=modality, storage=storage)
    if cut:
        assert (result.status, "truncated" in result.reason) == (statuses.CANNOT_UNDERSTAND, True)
        assert not Exam.objects.exists() and _files(storage) == []
    else:
        assert result.status == statuses.SUCCESS


@pytest.mark.django_db(transaction=True)
def test_a_database_outage_on_a_known_series_answers_out_of_resources(modality, storage):
    from django.db import connection

    first, second = _series_payloads(2)
    cache = SeriesCache()
    instance_receive(data=first, modality=modality, storage=storage, series_cache=cache)
    real_port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = "1"  # PostgreSQL gone mid-study: a real connection failure
    try:
        result = instance_receive(data=second, modality=modality, storage=storage, series_cache=cache)
    finally:
        connection.close()
        connection.settings_dict["PORT"] = real_port
    assert result.status == statuses.OUT_OF_RESOURCES
    assert "database" in result.reason
    assert Instance.objects.count() == 1
    retry = instance_receive(data=second, modality=modality, storage=storage, series_cache=cache)
    assert retry.status == statuses.SUCCESS
    counts_settle(cache)
    assert Exam.objects.get().number_of_instances == 2


@pytest.mark.django_db
def test_a_full_disk_on_a_known_series_rolls_its_index_row_back(modality, storage, monkeypatch):
    first, second = _series_payloads(2)
    cache = SeriesCache()
    instance_receive(data=first, modality=modality, storage=storage, series_cache=cache)

    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    result = instance_receive(data=second, modality=modality, storage=storage, series_cache=cache)
    assert result.status == statuses.OUT_OF_RESOURCES
    assert Instance.objects.count() == 1
    exam = Exam.objects.get()
    assert (exam.number_of_instances, exam.received_bytes) == (1, len(first))
    assert Series.objects.get().number_of_instances == 1


class _SlowStorage(FileSystemStorage):
    """A store whose writes wait until the test lets them finish."""

    def __init__(self, root):
        super().__init__(root)
        import threading

        self.writing, self.go_on = threading.Event(), threading.Event()

    def store(self, data, key=None):
        self.writing.set()
        assert self.go_on.wait(10)
        return super().store(data, key)


@pytest.mark.django_db(transaction=True)
def test_an_instance_is_not_visible_before_its_file_is_durable(modality, tmp_path):
    # The index statement of a known series waits for the file to be durable.
    import threading

    from django.db import connection

    storage = _SlowStorage(tmp_path / "store")
    first, second = _series_payloads(2)
    cache = SeriesCache()
    storage.go_on.set()
    instance_receive(data=first, modality=modality, storage=storage, series_cache=cache)
    storage.go_on.clear()
    storage.writing.clear()
    results = []

    def receive():
        results.append(instance_receive(data=second, modality=modality, storage=storage, series_cache=cache))
        connection.close()

    receiver = threading.Thread(target=receive)
    receiver.start()
    assert storage.writing.wait(10)
    time.sleep(0.2)  # the receiver's index statement has had time to run
    assert Instance.objects.count() == 1  # another connection does not see the second row yet
    storage.go_on.set()
    receiver.join(10)
    assert results[0].status == statuses.SUCCESS
    assert Instance.objects.count() == 2 and len(_files(storage)) == 2


@pytest.mark.django_db
def test_the_instance_table_has_one_index_per_lookup_and_no_like_index():
    # Every instance inserts into each index; a LIKE index on a UID column is never read.
    from django.db import connection

    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Instance._meta.db_table)
    on_uid = [c for c in constraints.values() if c["columns"] == ["sop_instance_uid"]]
    assert len(on_uid) == 1 and on_uid[0]["unique"]
    assert not [name for name in constraints if name.endswith("_like")]


@pytest.mark.django_db
def test_a_replacement_looks_for_other_users_of_the_old_file_in_its_series_only(modality, storage):
    # storage_key has no index: a check over the whole table would scan every instance
    # received so far, for each image of a corrected study that a scanner sends again.
    # Identical bytes carry the same Series Instance UID, so the series holds every row
    # that could share the file.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ds = make_dataset()
    instance_receive(data=encode(ds), modality=modality, storage=storage)
    ds.PatientName = "CORRIGE^Patient"
    with CaptureQueriesContext(connection) as captured:
        assert instance_receive(data=encode(ds), modality=modality, storage=storage).replaced
    table = Instance._meta.db_table
    lookups = [
        q["sql"] for q in captured.captured_queries if '"storage_key" =' in q["sql"] and q["sql"].startswith("SELECT")
    ]
    assert lookups and all(f'"{table}"."series_id" =' in sql for sql in lookups), lookups
