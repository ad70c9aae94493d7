"""WADO-URI (PS3.18 §9): one stored instance as ``application/dicom``, scoped and audited.

``GET /dicomweb/wado?requestType=WADO&studyUID=…&seriesUID=…&objectUID=…&contentType=application/dicom``

For clients that load one URL per instance and want the plain Part 10 bytes,
which WADO-RS only gives inside a multipart answer (the built-in viewer uses the
cheaper signed URLs of dicom_gateway.viewer_images, decision 009). The lookup is the
one of the WADO-RS RetrieveApi (dicomweb_selectors.instance_get_for_user, from
the user's exams): another site's UIDs are a 404 like unknown ones, audited as
"dicomweb.denied"; a success is audited as "dicomweb.retrieve". UIDs are only
compared in SQL; the file is opened through the row's storage key.

Only ``application/dicom`` is served, as stored: no rendered JPEG (the
standard's default contentType, 406 here) and no transcoding (a
``transferSyntax`` other than the stored one is 406 too).
"""

from __future__ import annotations

import re

from django.http import HttpResponse, JsonResponse

from dicom_gateway.dicomweb import DicomwebApi
from dicom_gateway.storage import get_storage

DICOM = "application/dicom"
_UID = re.compile(r"[0-9.]{1,64}")
_PARAMS = {"study": "studyUID", "series": "seriesUID", "instance": "objectUID"}


def _error(status: int, **extra: str) -> JsonResponse:
    return JsonResponse({"message": "", "extra": extra}, status=status)


class WadoUriApi(DicomwebApi):
    def get(self, request):
        params = request.query_params
        if params.get("requestType") != "WADO":
            return _error(400, invalid="requestType")
        uids = {key: params.get(name, "") for key, name in _PARAMS.items()}
        bad = [_PARAMS[key] for key, uid in uids.items() if not _UID.fullmatch(uid)]
        if bad:
            return _error(400, invalid=",".join(bad))
        accepted = [t.split(";")[0].strip() for t in params.get("contentType", "").split(",")]
        if DICOM not in accepted:
            return _error(406, unsupported=params.get("contentType", "image/jpeg"))
        instance = self.instance(uids["study"], uids["series"], uids["instance"])
        syntax = params.get("transferSyntax", "")
        if syntax and syntax != "*" and syntax != instance.transfer_syntax_uid:
            return _error(406, unsupported=syntax)
        with get_storage().open(instance.storage_key) as handle:
            data = handle.read()
        self.audit("dicomweb.retrieve", instance.series.exam, via="wado-uri", **uids, instances=1)
        response = HttpResponse(data, content_type=DICOM)
        # Patient data: never kept in a shared or on-disk browser cache.
        response["Cache-Control"] = "private, no-store"
        return response
