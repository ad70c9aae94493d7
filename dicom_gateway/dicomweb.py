"""DICOMweb read side (PS3.18): QIDO-RS search and WADO-RS retrieve, scoped and audited.

- QIDO-RS: studies, series and instances search (fuzzy patient name).
- WADO-RS: instances (multipart application/dicom, as stored or transcoded to
  Explicit VR Little Endian when the Accept header asks for it, §8.7.3.5),
  metadata (DICOM JSON; the pixel data is a BulkDataURI, §8.7.3.3), frames,
  bulk data, and rendered images (JPEG or PNG with window/level, quality and
  viewport, §8.3.5) of an instance or one of its frames. Pixel work is in
  dicom_gateway.imaging.

The views are DRF APIViews for the project's authentication (session or
token) and IsAuthenticated, but they answer with plain HttpResponses: the
DICOM media types (application/dicom+json, multipart/related) are not DRF
renderers. Errors keep the API's JSON shape ({"message", "extra"}).

Scoping: every object is found through dicom_gateway.dicomweb_selectors, which
start from the user's exams; another site's UID is a 404 like an unknown one,
and the attempt is audited ("dicomweb.denied"). Every answer carrying patient
data is audited ("dicomweb.search", "dicomweb.retrieve", "dicomweb.metadata",
"dicomweb.rendered").

CORS is off unless DICOMWEB_CORS_ALLOWED_ORIGINS lists origins (an external
OHIF viewer): django-cors-headers then answers them on /dicomweb/ only.
"""

from __future__ import annotations

import uuid
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from io import BytesIO
from typing import Any, BinaryIO

from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames, get_frame
from pydicom.uid import (
    JPEG2000,
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from core.services import audit_log
from dicom_gateway import dicomweb_selectors as selectors
from dicom_gateway import imaging
from dicom_gateway.storage import get_storage
from worklist.models import Exam, Instance, Series

DICOM_JSON = "application/dicom+json"

# Media type of one encapsulated frame by transfer syntax (PS3.18 Table 8.7.3-5).
FRAME_MEDIA_TYPES: dict[str, str] = {
    JPEGBaseline8Bit: "image/jpeg",
    JPEGExtended12Bit: "image/jpeg",
    JPEGLosslessSV1: "image/jpeg",
    JPEGLSLossless: "image/jls",
    JPEGLSNearLossless: "image/jls",
    JPEG2000Lossless: "image/jp2",
    JPEG2000: "image/jp2",
    RLELossless: "image/x-dicom-rle",
}

# Bulk data given in metadata as a BulkDataURI (PS3.18 §8.7.3.3), served by BulkDataApi:
# Pixel Data, Float Pixel Data, Double Float Pixel Data.
BULK_DATA_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)
_PIXEL_DATA_TAG = b"\xe0\x7f\x10\x00"  # (7FE0,0010), little endian
_PIXEL_DATA_TAG_BIG_ENDIAN = b"\x7f\xe0\x00\x10"


def _attr(vr: str, *values: Any) -> dict[str, Any]:
    values = tuple(v for v in values if v not in (None, ""))
    return {"vr": vr, "Value": list(values)} if values else {"vr": vr}


def _pn(name: str) -> dict[str, Any]:
    return {"vr": "PN", "Value": [{"Alphabetic": name}]} if name else {"vr": "PN"}


def _local_da_tm(exam: Exam) -> tuple[str, str]:
    if exam.study_datetime is None:
        return "", ""
    local = timezone.localtime(exam.study_datetime, zoneinfo.ZoneInfo(exam.site.timezone))
    return local.strftime("%Y%m%d"), local.strftime("%H%M%S")


def study_json(exam: Exam, modalities: Iterable[str], retrieve_url: str) -> dict[str, Any]:
    study_date, study_time = _local_da_tm(exam)
    birth = exam.patient_birth_date.strftime("%Y%m%d") if exam.patient_birth_date else ""
    return {
        "00080020": _attr("DA", study_date),
        "00080030": _attr("TM", study_time),
        "00080050": _attr("SH", exam.accession_number),
        "00080061": _attr("CS", *sorted(set(modalities) | ({exam.modality} if exam.modality else set()))),
        "00080090": _pn(exam.referring_physician_name),
        "00081030": _attr("LO", exam.study_description),
        "00081190": _attr("UR", retrieve_url),
        "00100010": _pn(exam.patient_name),
        "00100020": _attr("LO", exam.patient_id),
        "00100030": _attr("DA", birth),
        "00100040": _attr("CS", exam.patient_sex),
        "0020000D": _attr("UI", exam.study_instance_uid),
        "00201206": _attr("IS", exam.number_of_series),
        "00201208": _attr("IS", exam.number_of_instances),
    }


def series_json(series: Series, retrieve_url: str) -> dict[str, Any]:
    return {
        "00080060": _attr("CS", series.modality),
        "0008103E": _attr("LO", series.series_description),
        "00081190": _attr("UR", retrieve_url),
        "00180015": _attr("CS", series.body_part_examined),
        "0020000D": _attr("UI", series.exam.study_instance_uid),
        "0020000E": _attr("UI", series.series_instance_uid),
        "00200011": _attr("IS", series.series_number),
        "00201209": _attr("IS", series.number_of_instances),
    }


def instance_json(instance: Instance, retrieve_url: str) -> dict[str, Any]:
    return {
        "00080016": _attr("UI", instance.sop_class_uid),
        "00080018": _attr("UI", instance.sop_instance_uid),
        "00081190": _attr("UR", retrieve_url),
        "0020000D": _attr("UI", instance.series.exam.study_instance_uid),
        "0020000E": _attr("UI", instance.series.series_instance_uid),
        "00200013": _attr("IS", instance.instance_number),
    }


def _ob_or_ow(ds: Dataset) -> str:
    """The VR of pixel data read in implicit VR: by the bits allocated (PS3.5 §8.2)."""
    return "OW" if int(ds.get("BitsAllocated", 8) or 8) > 8 else "OB"


def _bulk_vr(ds: Dataset, tag: int) -> str:
    vr = ds[tag].VR
    return _ob_or_ow(ds) if " or " in vr else vr


def _read_to_pixel_data(source: BinaryIO) -> tuple[Dataset, str | None]:
    """The dataset up to its Pixel Data, and that element's VR, with ``source`` at its value.

    The VR is None when there is no Pixel Data, or for a deflated file (compressed as a
    whole, so no position in it means anything): that one is read whole instead.
    """
    ds = dcmread(source, stop_before_pixels=True)
    syntax = UID(ds.file_meta.TransferSyntaxUID)
    if syntax.is_deflated:
        source.seek(0)
        return dcmread(source), None
    header = source.read(8)
    if header[:4] != (_PIXEL_DATA_TAG if syntax.is_little_endian else _PIXEL_DATA_TAG_BIG_ENDIAN):
        return ds, None
    if syntax.is_implicit_VR:  # tag, 32-bit length
        return ds, _ob_or_ow(ds)
    source.read(4)  # explicit VR OB/OW: tag, VR, two reserved bytes, then the 32-bit length
    return ds, header[4:6].decode("ascii", "replace")


def metadata_json(source: BinaryIO, instance_url: str) -> dict[str, Any]:
    """Every element of a stored Part 10 file but the file meta; the pixel data as a BulkDataURI.

    The URI is ``<instance_url>/bulkdata/<tag>`` (PS3.18 §8.7.3.3: bulk data
    is never inlined in metadata). The file is read up to its Pixel Data only (the
    element's header says its VR): a study's metadata must not read its images.
    Elements after the pixel data (trailing padding, rare signatures) are left out.
    """
    ds, pixel_vr = _read_to_pixel_data(source)
    bulk = {}
    if pixel_vr is not None:
        bulk["7FE00010"] = {"vr": pixel_vr, "BulkDataURI": f"{instance_url}/bulkdata/7FE00010"}
    for tag in BULK_DATA_TAGS:
        if tag in ds:
            bulk[f"{tag:08X}"] = {"vr": _bulk_vr(ds, tag), "BulkDataURI": f"{instance_url}/bulkdata/{tag:08X}"}
            del ds[tag]
    return {**ds.to_json_dict(suppress_invalid_tags=True), **bulk}


def media_ranges(accept: str) -> list[tuple[str, dict[str, str]]]:
    """An Accept header as (media range, parameters) in the client's order, q=0 left out."""
    ranges = []
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        values = {}
        for param in params:
            key, _sep, value = param.partition("=")
            values[key.strip().lower()] = value.strip().strip('"')
        if media and values.get("q") not in ("0", "0.0", "0.00", "0.000"):
            ranges.append((media.lower(), values))
    return ranges


def dicom_syntaxes_accepted(accept: str) -> list[str]:
    """Transfer syntaxes a client accepts for application/dicom, in its order ("*": as stored).

    No Accept, ``*/*`` or multipart/related without a type accept what is stored;
    ``type="application/dicom"`` without a transfer-syntax means Explicit VR
    Little Endian (PS3.18 §8.7.3.5.2, Table 8.7.3-2).
    """
    if not accept.strip():
        return ["*"]
    syntaxes = []
    for media, params in media_ranges(accept):
        kind = params.get("type", "").lower()
        if media in ("*/*", "multipart/*") or (media == "multipart/related" and not kind):
            syntaxes.append("*")
        elif (media == "multipart/related" and kind == "application/dicom") or media == "application/dicom":
            syntaxes.append(params.get("transfer-syntax") or ExplicitVRLittleEndian)
    return syntaxes


def rendered_media_type(accept: str, query_accept: str = "") -> str | None:
    """image/jpeg (the default) or image/png, from the ``accept`` query parameter or the header."""
    for media, _params in media_ranges(query_accept or accept or "*/*"):
        if media in imaging.RENDERED_MEDIA_TYPES:
            return media
        if media in ("*/*", "image/*"):
            return "image/jpeg"
    return None


def instance_encode(data: bytes, stored: str, syntaxes: list[str]) -> tuple[str, bytes] | None:
    """The instance in the first accepted transfer syntax we can give: as stored, or decompressed.

    Returns (transfer syntax, Part 10 bytes), or None when none of ``syntaxes`` can be served.
    """
    for syntax in syntaxes:
        if syntax in ("*", stored):
            return stored, data
        if syntax == ExplicitVRLittleEndian:
            try:
                return syntax, imaging.to_explicit_little_endian(data)
            except imaging.CannotDecode:
                continue
    return None


def not_acceptable(message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"message": message, "extra": extra}, status=406)


def multipart(parts: Iterable[tuple[str, bytes]], media_type: str) -> StreamingHttpResponse:
    """A multipart/related response (PS3.18 §8.7.3.4), one part per (content type, bytes).

    Streamed: ``parts`` is consumed while the response is sent, so a lazy iterable
    (a whole study read file by file) holds one instance in memory, not the study.
    """
    boundary = uuid.uuid4().hex

    def body() -> Iterator[bytes]:
        for content_type, data in parts:
            yield f"--{boundary}\r\nContent-Type: {content_type}\r\n\r\n".encode()
            yield data
            yield b"\r\n"
        yield f"--{boundary}--\r\n".encode()

    content_type = f'multipart/related; type="{media_type}"; boundary={boundary}'
    return StreamingHttpResponse(body(), content_type=content_type)


def served_as_stored(stored: str, syntaxes: list[str]) -> bool:
    """Whether ``instance_encode`` gives the stored bytes untouched, known without reading them."""
    for syntax in syntaxes:
        if syntax in ("*", stored):
            return bool(stored)
        if syntax == ExplicitVRLittleEndian:
            return False  # a decompression comes first, which only reading can tell
    return False


def dicom_json(payload: Any, *, headers: dict[str, str] | None = None) -> HttpResponse:
    return JsonResponse(payload, safe=False, content_type=DICOM_JSON, headers=headers)


def _instance_path(exam: Exam, instance: Instance) -> tuple[str, ...]:
    return (
        "studies",
        exam.study_instance_uid,
        "series",
        instance.series.series_instance_uid,
        "instances",
        instance.sop_instance_uid,
    )


def _open(instance: Instance) -> BinaryIO:
    # The path comes from the row's hash-derived key, never from the URL.
    return get_storage().open(instance.storage_key)


def _read(instance: Instance) -> bytes:
    with _open(instance) as handle:
        return handle.read()


class DicomwebApi(APIView):
    """Base of the DICOMweb views: project auth, GET only, DICOM media types."""

    http_method_names = ["get", "head", "options"]
    # Not part of the OpenAPI description: DICOMweb is described by PS3.18, not by serializers.
    schema = None

    def perform_content_negotiation(self, request, force=False):
        # Success answers are built by hand with DICOM media types; only errors
        # go through DRF, always as JSON, whatever the client's Accept says.
        return JSONRenderer(), "application/json"

    def scoped(self, lookup: Callable[[], Any], **uids: str) -> Any:
        """Run a scoped lookup; a 404 is audited as a denied access, with the UIDs asked for."""
        try:
            return lookup()
        except Http404:
            audit_log(action="dicomweb.denied", request=self.request, detail={"uids": uids, "path": self.request.path})
            raise

    def exam(self, study: str) -> Exam:
        return self.scoped(
            lambda: selectors.exam_get_by_uid_for_user(user=self.request.user, study_instance_uid=study), study=study
        )

    def series(self, study: str, series: str) -> Series:
        return self.scoped(
            lambda: selectors.series_get_for_user(
                user=self.request.user, study_instance_uid=study, series_instance_uid=series
            ),
            study=study,
            series=series,
        )

    def instance(self, study: str, series: str, instance: str) -> Instance:
        return self.scoped(
            lambda: selectors.instance_get_for_user(
                user=self.request.user,
                study_instance_uid=study,
                series_instance_uid=series,
                sop_instance_uid=instance,
            ),
            study=study,
            series=series,
            instance=instance,
        )

    def query(self) -> selectors.Query | HttpResponse:
        try:
            return selectors.query_parse(self.request.query_params)
        except selectors.InvalidQuery as exc:
            return JsonResponse({"message": "", "extra": {"invalid": str(exc)}}, status=400)

    def url(self, *parts: str) -> str:
        return self.request.build_absolute_uri("/dicomweb/" + "/".join(parts))

    def audit(self, action: str, exam: Exam | None = None, **detail: Any) -> None:
        audit_log(action=action, obj=exam, request=self.request, detail=detail)


def _page(qs, query: selectors.Query) -> tuple[list, dict[str, str]]:
    rows = list(qs[query.offset : query.offset + query.limit + 1])
    headers = {}
    if len(rows) > query.limit:
        rows = rows[: query.limit]
        # PS3.18 §8.3.4.6: tell the client the answer was cut.
        headers["Warning"] = '299 teleradio "There are additional results that can be requested"'
    return rows, headers


# --- QIDO-RS ---------------------------------------------------------------------


class StudySearchApi(DicomwebApi):
    def get(self, request):
        query = self.query()
        if isinstance(query, HttpResponse):
            return query
        exams, headers = _page(selectors.study_list_for_user(user=request.user, query=query), query)
        modalities: dict[int, set[str]] = {}
        for exam_id, modality in (
            Series.objects.filter(exam_id__in=[e.pk for e in exams]).values_list("exam_id", "modality").distinct()
        ):
            if modality:
                modalities.setdefault(exam_id, set()).add(modality)
        payload = [study_json(e, modalities.get(e.pk, ()), self.url("studies", e.study_instance_uid)) for e in exams]
        self.audit("dicomweb.search", level="studies", query=query.filters, exam_ids=[e.pk for e in exams])
        return dicom_json(payload, headers=headers)


class SeriesSearchApi(DicomwebApi):
    def get(self, request, study: str | None = None):
        query = self.query()
        if isinstance(query, HttpResponse):
            return query
        if study is not None:
            exam = self.exam(study)
            qs = selectors.series_list_for_exam(exam=exam, query=query)
        else:
            studies = selectors.study_list_for_user(user=request.user, query=query)
            qs = selectors.series_list_for_exams(exams=studies, query=query)
        rows, headers = _page(qs, query)
        payload = [
            series_json(s, self.url("studies", s.exam.study_instance_uid, "series", s.series_instance_uid))
            for s in rows
        ]
        exam_ids = sorted({s.exam_id for s in rows})
        self.audit("dicomweb.search", level="series", query=query.filters, exam_ids=exam_ids)
        return dicom_json(payload, headers=headers)


class InstanceSearchApi(DicomwebApi):
    def get(self, request, study: str | None = None, series: str | None = None):
        query = self.query()
        if isinstance(query, HttpResponse):
            return query
        if series is not None:
            qs = selectors.instance_list_for_series(series=self.series(study, series), query=query)
        elif study is not None:
            qs = selectors.instance_list_for_exams(exams=[self.exam(study)], query=query)
        else:
            studies = selectors.study_list_for_user(user=request.user, query=query)
            qs = selectors.instance_list_for_exams(exams=studies, query=query)
        rows, headers = _page(qs, query)
        payload = [
            instance_json(
                i,
                self.url(
                    "studies",
                    i.series.exam.study_instance_uid,
                    "series",
                    i.series.series_instance_uid,
                    "instances",
                    i.sop_instance_uid,
                ),
            )
            for i in rows
        ]
        exam_ids = sorted({i.series.exam_id for i in rows})
        self.audit("dicomweb.search", level="instances", query=query.filters, exam_ids=exam_ids)
        return dicom_json(payload, headers=headers)


# --- WADO-RS ---------------------------------------------------------------------


class RetrieveApi(DicomwebApi):
    """Instances of a study, a series or one instance: as stored (Part 10 bytes, untouched), or transcoded.

    ``transfer-syntax=*`` (or no Accept) gives the stored bytes; a client asking
    for Explicit VR Little Endian gets compressed instances decompressed; any
    other syntax than the stored one is 406 Not Acceptable.
    """

    def get(self, request, study: str, series: str | None = None, instance: str | None = None):
        if instance is not None:
            found = self.instance(study, series, instance)
            exam, instances = found.series.exam, [found]
        elif series is not None:
            found_series = self.series(study, series)
            exam, instances = found_series.exam, list(found_series.instances.order_by("instance_number", "id"))
        else:
            exam = self.exam(study)
            instances = list(selectors.instance_list_for_exam(exam=exam))
        syntaxes = dicom_syntaxes_accepted(request.headers.get("Accept", ""))
        if not syntaxes:
            return not_acceptable(
                _('Seul multipart/related; type="application/dicom" est disponible.'),
                accept=request.headers.get("Accept", ""),
            )
        if all(served_as_stored(i.transfer_syntax_uid, syntaxes) for i in instances):
            # The common case (transfer-syntax=* or the stored one): read each file as it is
            # sent, so that a 3,000-image study never sits whole in a web worker's memory.
            self.audit(
                "dicomweb.retrieve", exam, study=study, series=series, instance=instance, instances=len(instances)
            )
            lazy = ((f"application/dicom; transfer-syntax={i.transfer_syntax_uid}", _read(i)) for i in instances)
            return multipart(lazy, "application/dicom")
        # A decompression may fail: every instance is encoded before answering (or 406).
        parts = []
        for found_instance in instances:
            data = _read(found_instance)
            stored = found_instance.transfer_syntax_uid or str(
                dcmread(BytesIO(data), stop_before_pixels=True).file_meta.TransferSyntaxUID
            )
            encoded = instance_encode(data, stored, syntaxes)
            if encoded is None:
                return not_acceptable(
                    _(
                        "Syntaxe de transfert non disponible : l'image est stockée en %(stored)s ; "
                        "demandez transfer-syntax=* ou %(explicit)s."
                    )
                    % {"stored": stored, "explicit": ExplicitVRLittleEndian},
                    stored=stored,
                    available=sorted({stored, ExplicitVRLittleEndian}),
                )
            syntax, body = encoded
            parts.append((f"application/dicom; transfer-syntax={syntax}", body))
        self.audit("dicomweb.retrieve", exam, study=study, series=series, instance=instance, instances=len(instances))
        return multipart(parts, "application/dicom")


class MetadataApi(DicomwebApi):
    """The DICOM JSON of every element but the bulk data, for a study, a series or one instance."""

    def get(self, request, study: str, series: str | None = None, instance: str | None = None):
        if instance is not None:
            found = self.instance(study, series, instance)
            exam, instances = found.series.exam, [found]
        elif series is not None:
            found_series = self.series(study, series)
            exam, instances = found_series.exam, list(found_series.instances.order_by("instance_number", "id"))
        else:
            exam = self.exam(study)
            instances = list(selectors.instance_list_for_exam(exam=exam))
        payload = []
        for found_instance in instances:
            with _open(found_instance) as source:
                payload.append(metadata_json(source, self.url(*_instance_path(exam, found_instance))))
        self.audit("dicomweb.metadata", exam, study=study, series=series, instance=instance, instances=len(instances))
        return dicom_json(payload)


def frame_list_parse(value: str) -> list[int]:
    """``"1,3"`` → ``[1, 3]``; ValueError unless every item is a positive integer."""
    numbers = [int(part) for part in value.split(",")]
    if not numbers or min(numbers) < 1:
        raise ValueError("frame numbers start at 1")
    return numbers


def frames_extract(ds: Dataset, numbers: list[int]) -> tuple[str, list[bytes]] | None:
    """The media type and the bytes of the given frames (1-based), or None when not servable.

    Native (uncompressed little endian) pixel data is cut into frames of
    Rows × Columns × SamplesPerPixel × BitsAllocated / 8 bytes; encapsulated pixel
    data gives its frames as stored, with the media type of the transfer syntax.

    Raises:
        IndexError: a frame number beyond NumberOfFrames.
    """
    syntax = UID(ds.file_meta.TransferSyntaxUID)
    count = int(ds.get("NumberOfFrames", 1) or 1)
    if max(numbers) > count:
        raise IndexError("no such frame")
    if "PixelData" not in ds:
        return None
    if syntax.is_encapsulated:
        media_type = FRAME_MEDIA_TYPES.get(syntax)
        if media_type is None:
            return None
        frames = list(generate_frames(ds.PixelData, number_of_frames=count))
        return media_type, [frames[n - 1] for n in numbers]
    if syntax == ExplicitVRBigEndian or ds.BitsAllocated % 8:
        return None  # would need byte swapping or bit unpacking: not served
    length = ds.Rows * ds.Columns * ds.get("SamplesPerPixel", 1) * ds.BitsAllocated // 8
    data = ds.PixelData
    return "application/octet-stream", [data[(n - 1) * length : n * length] for n in numbers]


def frames_read(source: BinaryIO, numbers: list[int]) -> tuple[Dataset, tuple[str, list[bytes]] | None]:
    """Like ``frames_extract``, reading from the open file only its header and the asked frames.

    OHIF fetches a multi-frame instance frame by frame: reading the whole file for
    each would read an enhanced series (one file, hundreds of frames) once per frame.
    A deflated file, rare, is read whole.

    Returns:
        The dataset (without its pixel data when read this way), and the frames or None.
    """
    ds, pixel_vr = _read_to_pixel_data(source)
    if pixel_vr is None:  # no pixel data, or a deflated file read whole
        return ds, frames_extract(ds, numbers)
    syntax = UID(ds.file_meta.TransferSyntaxUID)
    count = imaging.frame_count(ds)
    if max(numbers) > count:
        raise IndexError("no such frame")
    if not syntax.is_little_endian:
        return ds, None  # would need byte swapping: not served
    start = source.tell()
    if syntax.is_encapsulated:
        media_type = FRAME_MEDIA_TYPES.get(syntax)
        if media_type is None:
            return ds, None
        frames = []
        for number in numbers:
            source.seek(start)
            frames.append(get_frame(source, number - 1, number_of_frames=count))
        return ds, (media_type, frames)
    if ds.BitsAllocated % 8:
        return ds, None  # would need bit unpacking: not served
    length = ds.Rows * ds.Columns * ds.get("SamplesPerPixel", 1) * ds.BitsAllocated // 8
    frames = []
    for number in numbers:
        source.seek(start + (number - 1) * length)
        frames.append(source.read(length))
    return ds, ("application/octet-stream", frames)


class FramesApi(DicomwebApi):
    """Frames of one instance: native pixel bytes, or the encapsulated frames as stored."""

    def get(self, request, study: str, series: str, instance: str, frames: str):
        try:
            numbers = frame_list_parse(frames)
        except ValueError:
            return JsonResponse({"message": "", "extra": {"invalid": "frames"}}, status=400)
        found = self.instance(study, series, instance)
        try:
            with _open(found) as source:
                ds, extracted = frames_read(source, numbers)
        except IndexError:
            raise Http404 from None
        if extracted is None:
            return JsonResponse(
                {"message": "", "extra": {"unsupported": str(ds.file_meta.TransferSyntaxUID)}}, status=406
            )
        media_type, chunks = extracted
        self.audit(
            "dicomweb.retrieve", found.series.exam, study=study, series=series, instance=instance, frames=numbers
        )
        part_type = media_type
        if media_type != "application/octet-stream":
            part_type = f"{media_type}; transfer-syntax={ds.file_meta.TransferSyntaxUID}"
        return multipart(((part_type, chunk) for chunk in chunks), media_type)


class BulkDataApi(DicomwebApi):
    """The bulk data a metadata BulkDataURI points to (PS3.18 §8.7.3.3): pixel data, as stored.

    Native pixel data is one application/octet-stream part; encapsulated pixel
    data is one part per frame in the media type of its transfer syntax.
    """

    def get(self, request, study: str, series: str, instance: str, tag: str):
        found = self.instance(study, series, instance)
        number = int(tag, 16)
        ds = dcmread(BytesIO(_read(found)))
        if number not in BULK_DATA_TAGS or number not in ds:
            raise Http404
        syntax = UID(ds.file_meta.TransferSyntaxUID)
        if number == 0x7FE00010 and syntax.is_encapsulated:
            extracted = frames_extract(ds, list(range(1, imaging.frame_count(ds) + 1)))
            if extracted is None:
                return not_acceptable(_("Syntaxe de transfert non prise en charge."), unsupported=str(syntax))
            media_type, chunks = extracted
            parts = [(f"{media_type}; transfer-syntax={syntax}", chunk) for chunk in chunks]
        else:
            media_type, parts = "application/octet-stream", [("application/octet-stream", ds[number].value)]
        self.audit("dicomweb.retrieve", found.series.exam, study=study, series=series, instance=instance, bulkdata=tag)
        return multipart(parts, media_type)


class RenderedApi(DicomwebApi):
    """An instance (its first frame) or one frame rendered as JPEG or PNG (PS3.18 §8.3.5, §10.4.1.1.3).

    Query: ``window=center,width[,linear|linear-exact|sigmoid]`` (modality values,
    after RescaleSlope/Intercept; default: the dataset's VOI), ``quality=1..100``
    (JPEG), ``viewport=w,h`` (scales down, keeping the aspect ratio),
    ``accept=image/png`` (else the Accept header; JPEG by default).
    """

    def get(self, request, study: str, series: str, instance: str, frame: int | None = None):
        found = self.instance(study, series, instance)
        media_type = rendered_media_type(request.headers.get("Accept", ""), request.query_params.get("accept", ""))
        if media_type is None:
            return not_acceptable(
                _("Image rendue disponible en image/jpeg ou image/png."), available=list(imaging.RENDERED_MEDIA_TYPES)
            )
        try:
            rendering = imaging.rendering_parse(request.query_params)
        except imaging.InvalidRendering as exc:
            return JsonResponse({"message": "", "extra": {"invalid": str(exc)}}, status=400)
        # Read up to the pixel data, then only the asked frame (a multi-frame file is
        # rendered frame by frame by viewers: never the whole file per frame).
        with _open(found) as source:
            ds = dcmread(source, stop_before_pixels=True)
            try:
                index = 0 if frame is None else frame - 1
                body = imaging.frame_render(ds, index=index, rendering=rendering, media_type=media_type, source=source)
            except IndexError:
                raise Http404 from None
            except imaging.CannotDecode:
                return not_acceptable(
                    _("Ces pixels ne peuvent pas être décodés sur le serveur."),
                    unsupported=str(ds.file_meta.TransferSyntaxUID),
                )
        self.audit(
            "dicomweb.rendered", found.series.exam, study=study, series=series, instance=instance, frame=frame or 1
        )
        return HttpResponse(body, content_type=media_type)
