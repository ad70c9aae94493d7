"""The built-in viewer's image URLs (dicom_gateway.viewer_images), mounted at /viewer/ by teleradio/urls.py.

The token is what django.core.signing.TimestampSigner makes of "<user id>.<series id>";
the UID is digits and dots, at most 64 characters: anything else is not a route.
"""

from django.urls import re_path

from dicom_gateway import viewer_images

SIGNED = r"[0-9]+\.[0-9]+:[0-9A-Za-z]+:[0-9A-Za-z_-]+"

urlpatterns = [
    re_path(rf"^images/(?P<token>{SIGNED})/(?P<uid>[0-9.]{{1,64}})$", viewer_images.viewer_image, name="viewer_image"),
]
