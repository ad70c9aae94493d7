"""Receiving instances: durable store first, then the index, then success.

``instance_receive`` is called by the C-STORE handler (and by tests directly).
It never raises: every outcome is a DICOM status, so that the scanner retries
whatever we could not persist, and nothing half-written becomes visible (the
file is only referenced once the index transaction commits; an unreferenced
file is harmless and content-addressed, so a retry reuses it).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from io import BytesIO

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from core.services import audit_log
from dicom_gateway import statuses
from dicom_gateway.indexing import InstanceIndex, InvalidDataset, index_dataset
from dicom_gateway.quickscan import scan_identifiers
from dicom_gateway.storage import Storage, StorageError, StoredObject, get_storage
from sites.models import Modality
from worklist.models import Exam, Instance, Priority, Series
from worklist.services import exam_counts_refresh
from worklist.states import Status

logger = logging.getLogger(__name__)

_UNDEFINED_LENGTH = 0xFFFFFFFF


@dataclass(frozen=True)
class ReceiveResult:
    status: int
    exam_id: int | None = None
    created: bool = False  # a new instance was indexed
    replaced: bool = False  # a changed re-send replaced an instance
    new_exam: bool = False
    size: int = 0
    reason: str = ""


class TruncatedDataset(ValueError):
    pass


@dataclass(frozen=True)
class KnownSeries:
    """A series this association already indexed: its rows' ids, to skip the lookups."""

    study_instance_uid: str
    exam_id: int
    series_id: int


# series_instance_uid → KnownSeries; one per association (handlers.AssociationStats).
class SeriesCache(dict[str, KnownSeries]):
    """The series an association indexed, by UID, and the exams whose counts it owes.

    The next instances of a known series are inserted without updating their
    series' and exam's counters (two UPDATEs per instance, with Django's BEGIN and
    COMMIT a third of the path's time; decision 011): the association recounts an
    exam at most every ``COUNTS_EVERY_SECONDS`` while it sends (``owed``: exam id →
    when the first uncounted instance came), and before it ends (``counts_settle``).
    """

    def __init__(self) -> None:
        super().__init__()
        self.owed: dict[int, float] = {}


# Long enough to spare most recounts, short enough for the board's live counts; the quiet
# period (EXAM_QUIET_SECONDS) is much longer, and READY recounts anyway.
COUNTS_EVERY_SECONDS = 0.5


# Values longer than this (pixel data, in practice) are not read into the Dataset: nothing
# indexed needs them, and skipping the copy saves about half the parse of a 512 KB CT image.
_DEFER_SIZE = 64 * 1024


def parse_part10(data: bytes) -> Dataset:
    """Parse a DICOM Part 10 byte string, refusing truncated datasets.

    pydicom reads a truncated file without complaint (the last value is just
    short, or, for a value it defers, past the end), so each top-level
    element's declared length is checked against the bytes received.
    """
    ds = dcmread(BytesIO(data), defer_size=_DEFER_SIZE)
    transfer_syntax = ds.file_meta.get("TransferSyntaxUID") if ds.file_meta else None
    if transfer_syntax is not None and transfer_syntax.is_deflated:
        # Offsets then point into the inflated stream, not into ``data``: read it all.
        ds = dcmread(BytesIO(data))
    for elem in ds._dict.values():
        if not isinstance(elem, RawDataElement) or elem.length == _UNDEFINED_LENGTH:
            continue
        if elem.value is None:
            if elem.value_tell + elem.length > len(data):
                raise TruncatedDataset(f"element {elem.tag} is truncated")
        elif len(elem.value) < elem.length:
            raise TruncatedDataset(f"element {elem.tag} is truncated")
    return ds


def instance_receive(
    *,
    data: bytes,
    modality: Modality,
    abstract_syntax: str | None = None,
    storage: Storage | None = None,
    series_cache: SeriesCache | None = None,
) -> ReceiveResult:
    """Store one received instance durably and index it.

    Args:
        data: the instance as a DICOM Part 10 byte string (preamble, meta, dataset).
        modality: the sending Modality (already authenticated by calling AE).
        abstract_syntax: the SOP Class negotiated for this presentation context.
        storage: the image store (default: settings.STORAGE_ROOT).
        series_cache: the series this association already indexed (filled here). With it,
            a new instance of a known series is indexed in one SQL statement instead of
            about nine round trips (see ``_index_in_known_series``).

    Returns:
        A ReceiveResult whose ``status`` is the C-STORE status to answer:
        SUCCESS once the file is durable and indexed (also for a duplicate);
        CANNOT_UNDERSTAND for unreadable, truncated or unidentifiable data;
        DATASET_DOES_NOT_MATCH_SOP_CLASS when the SOP Class differs from the context;
        OUT_OF_RESOURCES when the store or the database failed (the scanner retries).
    """
    try:
        # The next instances of a series this association indexed: their identifiers are
        # read from the bytes (quickscan). The one-statement path is PostgreSQL's (its SQL and
        # its measurements); SQLite, the zero-install demo's database, takes the full path.
        quick = scan_identifiers(data) if series_cache and connection.vendor == "postgresql" else None
        known = series_cache.get(quick.series_instance_uid) if quick is not None else None
        if known is not None and known.study_instance_uid == quick.study_instance_uid:
            index = InstanceIndex(
                study_instance_uid=quick.study_instance_uid,
                series_instance_uid=quick.series_instance_uid,
                sop_instance_uid=quick.sop_instance_uid,
                sop_class_uid=quick.sop_class_uid,
                instance={"instance_number": quick.instance_number, "slice_position": quick.slice_position},
            )
            transfer_syntax = quick.transfer_syntax_uid
        else:
            known = None
            index, transfer_syntax = _read_whole(data, modality.site.timezone)
    except Exception as exc:  # noqa: BLE001 - any parse failure means "cannot understand"
        return _cannot_understand(exc)
    if abstract_syntax and index.sop_class_uid != abstract_syntax:
        return ReceiveResult(status=statuses.DATASET_DOES_NOT_MATCH_SOP_CLASS, reason="SOP class mismatch")

    storage = storage or get_storage()
    stored = None
    if known is not None:
        try:
            exam_id, stored = _store_and_index_in_known_series(storage, data, index, known, transfer_syntax)
        except StorageError as exc:
            return _storage_failed(exc)
        except DatabaseError as exc:
            return _database_failed(exc)
        if exam_id is not None:
            _count_later(series_cache, exam_id)
            return ReceiveResult(status=statuses.SUCCESS, exam_id=exam_id, created=True, size=stored.size)
        # Not a plain new instance (a re-send, or the rows went away): the full path decides.
        series_cache.pop(index.series_instance_uid, None)
        try:
            index, _ = _read_whole(data, modality.site.timezone)
        except Exception as exc:  # noqa: BLE001 - as above
            return _cannot_understand(exc)
    if stored is None:
        try:
            stored = storage.store(data)
        except StorageError as exc:
            return _storage_failed(exc)
    for attempt in range(3):
        try:
            result, series_id = _index(index, modality, stored.key, stored.size, transfer_syntax, storage)
            if series_cache is not None:
                series_cache[index.series_instance_uid] = KnownSeries(
                    index.study_instance_uid, result.exam_id, series_id
                )
            return result
        except IntegrityError:
            # Two associations created the same exam/series/instance at once:
            # the other one won, so the next attempt finds its row.
            if attempt == 2:
                logger.exception("index conflict persisted")
                return ReceiveResult(status=statuses.OUT_OF_RESOURCES, reason="index conflict")
        except _ForeignStudy as exc:
            return ReceiveResult(status=statuses.CANNOT_UNDERSTAND, reason=str(exc))
        except DatabaseError as exc:
            return _database_failed(exc)
    raise AssertionError("unreachable")  # pragma: no cover


def _count_later(series_cache: SeriesCache, exam_id: int) -> None:
    """Owe the exam a recount; pay it if the first uncounted instance is old enough."""
    now = time.monotonic()
    since = series_cache.owed.setdefault(exam_id, now)
    if now - since >= COUNTS_EVERY_SECONDS:
        _recount(series_cache, exam_id)


def _recount(series_cache: SeriesCache, exam_id: int) -> None:
    try:
        exam_counts_refresh(exam_id=exam_id)
    except DatabaseError as exc:
        # The instances are indexed; only their counts wait for the next recount (or READY's).
        logger.warning("recount of exam %s failed: %s", exam_id, type(exc).__name__)
        return
    series_cache.owed.pop(exam_id, None)


def counts_settle(series_cache: SeriesCache) -> None:
    """Recount every exam the association still owes (it is releasing or ending). Never raises."""
    for exam_id in list(series_cache.owed):
        _recount(series_cache, exam_id)


def _read_whole(data: bytes, tz_name: str) -> tuple[InstanceIndex, str]:
    """pydicom's reading: every index field, and the transfer syntax."""
    ds = parse_part10(data)
    return index_dataset(ds, tz_name=tz_name), str(getattr(ds.file_meta, "TransferSyntaxUID", "") or "")


def _cannot_understand(exc: Exception) -> ReceiveResult:
    reason = str(exc) if isinstance(exc, InvalidDataset | TruncatedDataset) else f"unreadable: {type(exc).__name__}"
    return ReceiveResult(status=statuses.CANNOT_UNDERSTAND, reason=reason)


def _storage_failed(exc: StorageError) -> ReceiveResult:
    logger.error("store failed: %s", exc)
    return ReceiveResult(status=statuses.OUT_OF_RESOURCES, reason=f"storage: {exc}")


def _database_failed(exc: DatabaseError) -> ReceiveResult:
    logger.error("index failed: %s", type(exc).__name__)
    return ReceiveResult(status=statuses.OUT_OF_RESOURCES, reason=f"database: {type(exc).__name__}")


class _ForeignStudy(Exception):
    pass


# One statement, so one round trip (run once the file is durable, and autocommitted): insert the
# instance unless its SOP Instance UID is known (then nothing happens and the full path handles
# the re-send) or its series is gone. Its series' and exam's counts are recounted later
# (SeriesCache, worklist.services.exam_counts_refresh).
_INSERT_IN_KNOWN_SERIES = """
INSERT INTO {instance} (series_id, sop_instance_uid, sop_class_uid, transfer_syntax_uid,
                        instance_number, slice_position, storage_key, size, received_at)
SELECT %(series_id)s, %(sop_instance_uid)s, %(sop_class_uid)s, %(transfer_syntax_uid)s,
       %(instance_number)s, %(slice_position)s, %(storage_key)s, %(size)s, %(now)s
WHERE EXISTS (SELECT 1 FROM {series} WHERE id = %(series_id)s)
ON CONFLICT (sop_instance_uid) DO NOTHING
RETURNING id
"""


def _store_and_index_in_known_series(
    storage: Storage, data: bytes, index: InstanceIndex, known: KnownSeries, transfer_syntax: str
) -> tuple[int | None, StoredObject]:
    """Make the file durable, then index it in one autocommitted statement: one round trip.

    The row is written only once the file is durable, so it is never visible without
    its file. Django's ``atomic`` would cost two more round trips (BEGIN, COMMIT) and
    about 0.25 ms of CPU per instance for a single statement that PostgreSQL runs as
    its own transaction anyway (docs/benchmarks.md, sixth round).

    Returns:
        The exam id (None when the full path must decide), and the stored object.
    """
    stored = storage.store(data)
    return _index_in_known_series(index, known, stored.key, stored.size, transfer_syntax), stored


def _index_in_known_series(
    index: InstanceIndex, known: KnownSeries, key: str, size: int, transfer_syntax: str
) -> int | None:
    """Index a new instance of a series this association already indexed, in one statement.

    The exam and series rows were found (and their site checked) by ``_index``
    for an earlier instance, so only the instance row remains; its series' and exam's
    counts are owed (``SeriesCache``).
    Autocommitted (one round trip), or part of the caller's transaction if there is one.

    Returns:
        The exam id, or None when nothing was inserted (the SOP Instance UID is
        already indexed, or the series is gone): the caller takes the full path.
    """
    sql = _INSERT_IN_KNOWN_SERIES.format(instance=Instance._meta.db_table, series=Series._meta.db_table)
    params = {
        "series_id": known.series_id,
        "sop_instance_uid": index.sop_instance_uid,
        "sop_class_uid": index.sop_class_uid,
        "transfer_syntax_uid": transfer_syntax,
        "instance_number": index.instance["instance_number"],
        "slice_position": index.instance["slice_position"],
        "storage_key": key,
        "size": size,
        "now": timezone.now(),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = cursor.fetchone() is not None
    return known.exam_id if inserted else None


@transaction.atomic
def _index(
    index: InstanceIndex, modality: Modality, key: str, size: int, transfer_syntax: str, storage: Storage
) -> tuple[ReceiveResult, int]:
    """Index one instance with row locks: new exams and series, re-sends, replacements.

    Returns:
        The result, and the series id (checked to belong to the modality's site),
        which the association may cache for its next instances.
    """
    now = timezone.now()
    exam, new_exam = Exam.objects.select_for_update().get_or_create(
        study_instance_uid=index.study_instance_uid,
        defaults={
            **index.exam,
            "site": modality.site,
            "source_modality": modality,
            "status": Status.RECEIVING,
            "priority": Priority.URGENT if (modality.urgent_by_default or index.urgent) else Priority.STANDARD,
            "received_at": now,
            "last_instance_at": now,
        },
    )
    if exam.site_id != modality.site_id:
        # A study UID already known at another site: never mix two sites' data.
        raise _ForeignStudy("study belongs to another site")

    series, new_series = Series.objects.get_or_create(
        series_instance_uid=index.series_instance_uid, defaults={**index.series, "exam": exam}
    )
    if series.exam_id != exam.pk:
        raise _ForeignStudy("series belongs to another study")

    instance = Instance.objects.select_for_update().filter(sop_instance_uid=index.sop_instance_uid).first()
    replaced = created = False
    if instance is None:
        Instance.objects.create(
            series=series,
            sop_instance_uid=index.sop_instance_uid,
            sop_class_uid=index.sop_class_uid,
            transfer_syntax_uid=transfer_syntax,
            storage_key=key,
            size=size,
            **index.instance,
        )
        created = True
    elif instance.storage_key != key:
        old_key, old_size = instance.storage_key, instance.size
        if instance.series_id != series.pk:
            raise _ForeignStudy("instance belongs to another series")
        instance.storage_key, instance.size = key, size
        instance.transfer_syntax_uid = transfer_syntax
        instance.instance_number = index.instance["instance_number"]
        instance.slice_position = index.instance["slice_position"]
        instance.save(update_fields=["storage_key", "size", "transfer_syntax_uid", "instance_number", "slice_position"])
        Exam.objects.filter(pk=exam.pk).update(received_bytes=F("received_bytes") + size - old_size)
        audit_log(
            action="instance.replaced",
            obj=exam,
            detail={"sop_instance_uid": index.sop_instance_uid, "old_size": old_size, "new_size": size},
        )
        # The old file goes only once the new reference is committed, and only if no other
        # row shares it. Rows with the same key came from the same bytes, hence the same
        # Series Instance UID: looking in this series (indexed) finds them all, where the
        # whole table (storage_key has no index) would be scanned for every replaced image.
        others = Instance.objects.filter(series=series, storage_key=old_key).exclude(pk=instance.pk)
        if not others.exists():
            transaction.on_commit(lambda: storage.delete(old_key))
        replaced = True

    exam_changes: dict = {"last_instance_at": now}
    if created:
        Series.objects.filter(pk=series.pk).update(number_of_instances=F("number_of_instances") + 1)
        exam_changes.update(
            number_of_instances=F("number_of_instances") + 1,
            received_bytes=F("received_bytes") + size,
        )
        if new_series:
            exam_changes["number_of_series"] = F("number_of_series") + 1
            if exam.status not in (Status.REQUESTED, Status.SCHEDULED, Status.RECEIVING):
                # Late series: whoever holds the exam is told; nothing re-routes.
                exam_changes["new_series_at"] = now
    Exam.objects.filter(pk=exam.pk).update(**exam_changes)
    result = ReceiveResult(
        status=statuses.SUCCESS, exam_id=exam.pk, created=created, replaced=replaced, new_exam=new_exam, size=size
    )
    return result, series.pk
