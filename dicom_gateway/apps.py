from django.apps import AppConfig


class DicomGatewayConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "dicom_gateway"
