"""The gateway's DICOM Application Entity, built from settings.

For now the AE answers Verification (C-ECHO) only, so that a site can check
its network path to the platform; the C-STORE ingest and the Modality Worklist
are added here when they land. Kept free of handlers' logic: this module only
says *what* the AE accepts and *where* it listens.
"""

from dataclasses import dataclass

from django.conf import settings
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES
from pynetdicom.sop_class import Verification


@dataclass(frozen=True)
class GatewayAddress:
    ae_title: str
    host: str
    port: int


def gateway_address() -> GatewayAddress:
    """Where the gateway listens, from DICOM_AE_TITLE, DICOM_BIND_ADDRESS and DICOM_PORT."""
    return GatewayAddress(
        ae_title=settings.DICOM_AE_TITLE,
        host=settings.DICOM_BIND_ADDRESS,
        port=int(settings.DICOM_PORT),
    )


def build_ae() -> AE:
    """A pynetdicom AE with the gateway's AE title, accepting Verification (C-ECHO).

    Returns:
        The configured, not yet started, AE. Start it with
        ``ae.start_server((address.host, address.port), block=False)``.
    """
    ae = AE(ae_title=settings.DICOM_AE_TITLE)
    # Any transfer syntax is fine for C-ECHO: the request carries no dataset.
    ae.add_supported_context(Verification, ALL_TRANSFER_SYNTAXES)
    return ae
