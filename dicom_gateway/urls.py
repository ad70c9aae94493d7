"""DICOMweb (PS3.18) URLs, mounted at /dicomweb/ by teleradio/urls.py.

UIDs are matched by a strict pattern (digits and dots, at most 64 characters):
anything else is not a route at all.
"""

from django.urls import path, register_converter

from dicom_gateway import dicomweb, wado_uri


class UidConverter:
    regex = r"[0-9.]{1,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class FrameListConverter:
    regex = r"[0-9]+(,[0-9]+)*"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return str(value)


class TagConverter:
    regex = r"[0-9A-Fa-f]{8}"

    def to_python(self, value: str) -> str:
        return value.upper()

    def to_url(self, value: str) -> str:
        return str(value)


register_converter(UidConverter, "uid")
register_converter(FrameListConverter, "frames")
register_converter(TagConverter, "tag")

STUDY = "studies/<uid:study>"
SERIES = f"{STUDY}/series/<uid:series>"
INSTANCE = f"{SERIES}/instances/<uid:instance>"

app_name = "dicomweb"
urlpatterns = [
    # QIDO-RS
    path("studies", dicomweb.StudySearchApi.as_view(), name="studies"),
    path("series", dicomweb.SeriesSearchApi.as_view(), name="series"),
    path("instances", dicomweb.InstanceSearchApi.as_view(), name="instances"),
    path(f"{STUDY}/series", dicomweb.SeriesSearchApi.as_view(), name="study-series"),
    path(f"{STUDY}/instances", dicomweb.InstanceSearchApi.as_view(), name="study-instances"),
    path(f"{SERIES}/instances", dicomweb.InstanceSearchApi.as_view(), name="series-instances"),
    # WADO-RS
    path(STUDY, dicomweb.RetrieveApi.as_view(), name="study"),
    path(SERIES, dicomweb.RetrieveApi.as_view(), name="series-retrieve"),
    path(INSTANCE, dicomweb.RetrieveApi.as_view(), name="instance"),
    path(f"{STUDY}/metadata", dicomweb.MetadataApi.as_view(), name="study-metadata"),
    path(f"{SERIES}/metadata", dicomweb.MetadataApi.as_view(), name="series-metadata"),
    path(f"{INSTANCE}/metadata", dicomweb.MetadataApi.as_view(), name="instance-metadata"),
    path(f"{INSTANCE}/frames/<frames:frames>", dicomweb.FramesApi.as_view(), name="instance-frames"),
    path(f"{INSTANCE}/bulkdata/<tag:tag>", dicomweb.BulkDataApi.as_view(), name="instance-bulkdata"),
    path(f"{INSTANCE}/rendered", dicomweb.RenderedApi.as_view(), name="instance-rendered"),
    path(f"{INSTANCE}/frames/<int:frame>/rendered", dicomweb.RenderedApi.as_view(), name="frame-rendered"),
    # WADO-URI (PS3.18 §9): one instance as application/dicom, for the built-in viewer
    path("wado", wado_uri.WadoUriApi.as_view(), name="wado-uri"),
]
