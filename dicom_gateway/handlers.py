"""What the gateway does for each association and DIMSE request: thin, they call services.

Called by the upper layer (``upper_layer.Association``) in each association's
thread, with plain data (no protocol objects). They never raise: every outcome
is a DICOM status, so a failure is an answer the scanner can act on, not an
aborted association.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections, connection
from pydicom.dataset import Dataset
from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID, PYNETDICOM_IMPLEMENTATION_VERSION

from core.services import audit_log
from dicom_gateway import metrics, mwl, statuses
from dicom_gateway.services import SeriesCache, counts_settle, instance_receive
from sites.models import Modality

logger = logging.getLogger("dicom_gateway")


@dataclass
class StudyStats:
    """What one association brought of one study, for its summary log line."""

    started: float  # perf_counter() when its first instance arrived
    instances: int = 0
    bytes: int = 0
    seconds: float = 0.0  # from its first instance's arrival to its last one's answer


@dataclass
class AssociationStats:
    """What one association did, for its summary log line."""

    calling_ae: str
    peer: str
    modality: Modality | None = None
    started: float = field(default_factory=time.monotonic)
    instances: int = 0
    failures: int = 0
    bytes: int = 0
    exams: dict[int, StudyStats] = field(default_factory=dict)
    closed: bool = False
    # The series indexed so far: their next instances take one SQL statement.
    series: SeriesCache = field(default_factory=SeriesCache)


def _explicit_le(tag: int, vr: bytes, value: bytes) -> bytes:
    """One data element in Explicit VR Little Endian (the File Meta Information's encoding)."""
    if vr == b"OB":
        return struct.pack("<HH2s2xI", tag >> 16, tag & 0xFFFF, vr, len(value)) + value
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr, len(value)) + value


def _padded(text: str, pad: bytes) -> bytes:
    # pydicom writes text values in its default character set (ISO 8859-1), padded to even length.
    raw = text.encode("latin-1")
    return raw + pad if len(raw) % 2 else raw


_META_PREFIX = b"\x00" * 128 + b"DICM"
_META_VERSION = _explicit_le(0x00020001, b"OB", b"\x00\x01")
_META_IMPLEMENTATION_UID = _explicit_le(0x00020012, b"UI", _padded(PYNETDICOM_IMPLEMENTATION_UID, b"\x00"))
_META_IMPLEMENTATION_VERSION = _explicit_le(0x00020013, b"SH", _padded(PYNETDICOM_IMPLEMENTATION_VERSION, b" "))


def part10_header(sop_class_uid: str, sop_instance_uid: str, transfer_syntax: str) -> bytes:
    """Preamble, "DICM" and File Meta Information, as pynetdicom's ``Event.encoded_dataset()`` writes them.

    Byte for byte the same (tests/test_handlers.py compares them), so stored files and
    their content-addressed keys do not change; but built with ``struct`` instead of a
    pydicom FileMetaDataset, which costs about 0.6 ms of the GIL per instance.
    """
    elements = (
        _META_VERSION
        + _explicit_le(0x00020002, b"UI", _padded(sop_class_uid, b"\x00"))
        + _explicit_le(0x00020003, b"UI", _padded(sop_instance_uid, b"\x00"))
        + _explicit_le(0x00020010, b"UI", _padded(transfer_syntax, b"\x00"))
        + _META_IMPLEMENTATION_UID
        + _META_IMPLEMENTATION_VERSION
    )
    return _META_PREFIX + _explicit_le(0x00020000, b"UL", struct.pack("<I", len(elements))) + elements


def modality_for_peer(calling_ae: str, peer_ip: str) -> tuple[Modality | None, str]:
    """The enabled Modality allowed to send from this AE title and address, or why not."""
    modality = Modality.objects.select_related("site").filter(ae_title=calling_ae).first()
    if modality is None:
        return None, "unknown calling AE title"
    if not modality.enabled:
        return None, "modality disabled"
    if not modality.site.active:
        return None, "site inactive"
    if settings.DICOM_CHECK_PEER_IP and modality.host and modality.host != peer_ip:
        return None, "peer address does not match the modality's host"
    return modality, ""


def association_requested(calling_ae: str, peer_ip: str) -> AssociationStats | None:
    """The new association's record if an enabled Modality may send from there; None to reject it.

    A rejection (A-ASSOCIATE-RJ: permanent, calling AE title not recognised) is
    logged and audited.
    """
    close_old_connections()
    try:
        modality, reason = modality_for_peer(calling_ae, peer_ip)
    except Exception:
        logger.exception("association from %s@%s: lookup failed", calling_ae, peer_ip)
        modality, reason = None, "lookup failed"
    if modality is None:
        logger.warning("association rejected: calling_ae=%r peer=%s reason=%s", calling_ae, peer_ip, reason)
        metrics.ASSOCIATIONS.labels(outcome="rejected").inc()
        try:
            audit_log(
                action="gateway.association_rejected",
                detail={"calling_ae": calling_ae, "peer": peer_ip, "reason": reason},
            )
        except Exception:
            logger.exception("could not audit the rejected association")
        return None
    metrics.ASSOCIATIONS.labels(outcome="accepted").inc()
    return AssociationStats(calling_ae=calling_ae, peer=peer_ip, modality=modality)


def echo(stats: AssociationStats | None) -> int:
    """C-ECHO: always success (the association was already vetted)."""
    return statuses.SUCCESS


def store(
    stats: AssociationStats | None,
    *,
    abstract_syntax: str,
    sop_class_uid: str,
    sop_instance_uid: str,
    transfer_syntax: str,
    dataset: bytes,
) -> int:
    """C-STORE: store durably, index, then answer.

    Returns:
        0x0000 success (stored and indexed, or an identical duplicate);
        0xA700 out of resources (storage or database failed: the scanner retries);
        0xA900 dataset does not match SOP class;
        0xC000 cannot understand (unreadable, truncated, missing or malformed UIDs);
        0x0110 processing failure (anything unforeseen; logged with a traceback).
    """
    started = time.perf_counter()
    try:
        if connection.errors_occurred:
            # A database error in this association (say PostgreSQL restarted):
            # reconnect now, so that the scanner's retry can succeed. Calling
            # close_old_connections() for every instance would cost a health-check
            # round trip (CONN_HEALTH_CHECKS) per instance, while the association's
            # thread opened its own connection moments ago (association_requested).
            close_old_connections()
        if stats is None or stats.modality is None:
            return statuses.PROCESSING_FAILURE
        try:
            header = part10_header(sop_class_uid, sop_instance_uid, transfer_syntax)
        except UnicodeEncodeError:
            return statuses.CANNOT_UNDERSTAND
        result = instance_receive(
            data=header + dataset,
            modality=stats.modality,
            abstract_syntax=abstract_syntax,
            series_cache=stats.series,
        )
    except Exception:
        logger.exception("C-STORE from %s failed unexpectedly", stats.calling_ae if stats else "?")
        metrics.INSTANCES.labels(outcome=statuses.NAMES[statuses.PROCESSING_FAILURE]).inc()
        if stats:
            stats.failures += 1
        return statuses.PROCESSING_FAILURE
    finished = time.perf_counter()
    metrics.STORE_SECONDS.observe(finished - started)
    metrics.INSTANCES.labels(outcome=statuses.NAMES.get(result.status, hex(result.status))).inc()
    if result.status == statuses.SUCCESS:
        stats.instances += 1
        stats.bytes += result.size
        metrics.BYTES.inc(result.size)
        if result.exam_id is not None:
            study = stats.exams.get(result.exam_id)
            if study is None:
                study = stats.exams[result.exam_id] = StudyStats(started=started)
            study.instances += 1
            study.bytes += result.size
            study.seconds = finished - study.started
    else:
        _refused(stats, result.status, result.reason)
    return result.status


def store_too_large(stats: AssociationStats | None, *, size: int, limit: int) -> int:
    """C-STORE of a dataset over DICOM_MAX_INSTANCE_BYTES: read and dropped, refused (0xA700)."""
    metrics.INSTANCES.labels(outcome=statuses.NAMES[statuses.OUT_OF_RESOURCES]).inc()
    reason = f"instance of {size} bytes over DICOM_MAX_INSTANCE_BYTES={limit}"
    return _refused(stats, statuses.OUT_OF_RESOURCES, reason)


def _refused(stats: AssociationStats | None, status: int, reason: str) -> int:
    """Count and log a C-STORE answered with a failure status; returns the status."""
    if stats:
        stats.failures += 1
    calling_ae = stats.calling_ae if stats else "?"
    logger.warning("C-STORE refused: calling_ae=%s status=0x%04X reason=%s", calling_ae, status, reason)
    return status


def find(
    stats: AssociationStats | None, identifier: Dataset, is_cancelled: Callable[[], bool]
) -> Iterator[tuple[int, Dataset | None]]:
    """C-FIND on the Modality Worklist: the calling scanner's site's scheduled requests.

    Yields:
        (0xFF00 pending, answer) for each worklist entry, then (0x0000 success, None);
        (0xFE00 cancel, None) when the scanner cancels;
        (0xA900, None) for a malformed matching key (a bad date range);
        (0xC000 unable to process, None) for anything else (logged with a traceback).
    """
    close_old_connections()
    calling_ae = stats.calling_ae if stats else "?"
    try:
        if stats is None or stats.modality is None:
            raise RuntimeError("C-FIND on an association that was not vetted")
        answers = mwl.mwl_find(identifier=identifier, modality=stats.modality)
    except mwl.InvalidQuery as exc:
        logger.warning("MWL C-FIND refused: calling_ae=%s reason=%s", calling_ae, exc)
        yield mwl.IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS, None
        return
    except Exception:
        logger.exception("MWL C-FIND from %s failed unexpectedly", calling_ae)
        yield mwl.UNABLE_TO_PROCESS, None
        return
    for answer in answers:
        if is_cancelled():
            yield mwl.CANCELLED, None
            return
        yield mwl.PENDING, answer
    yield statuses.SUCCESS, None


def release_requested(stats: AssociationStats | None) -> None:
    """Before answering A-RELEASE: the exams' counts the association owes (never raises)."""
    if stats is not None:
        counts_settle(stats.series)


def association_closed(stats: AssociationStats | None) -> None:
    """One summary line per association and per study (no patient data at INFO).

    Runs in the association's thread, which ends with the association: its
    database connection is closed here.
    """
    if stats is None or stats.closed:
        connection.close()
        return
    stats.closed = True
    counts_settle(stats.series)  # after an abort or a lost connection (a release has settled them)
    duration = time.monotonic() - stats.started
    for exam_id, study in stats.exams.items():
        logger.info(
            "study received: exam=%s calling_ae=%s instances=%s bytes=%s duration=%.3fs",
            exam_id,
            stats.calling_ae,
            study.instances,
            study.bytes,
            study.seconds,
        )
    logger.info(
        "association closed: calling_ae=%s peer=%s instances=%s failures=%s bytes=%s duration=%.3fs",
        stats.calling_ae,
        stats.peer,
        stats.instances,
        stats.failures,
        stats.bytes,
        duration,
    )
    connection.close()
