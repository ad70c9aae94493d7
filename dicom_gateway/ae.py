"""The gateway's DICOM Application Entity, built from settings, in one place.

What the AE accepts (SOP classes, transfer syntaxes) and its limits (PDU size,
associations, timeouts) are configured here; who may send is data
(sites.Modality, checked in handlers.handle_requested).
"""

from dataclasses import dataclass

from django.conf import settings
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts
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
    """A pynetdicom AE for C-ECHO and C-STORE of every standard storage SOP class.

    Every transfer syntax is accepted, compressed ones included: the gateway
    stores the bytes as received and never needs to decode pixel data.
    """
    ae = AE(ae_title=settings.DICOM_AE_TITLE)
    ae.add_supported_context(Verification, ALL_TRANSFER_SYNTAXES)
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    ae.maximum_associations = settings.DICOM_MAX_ASSOCIATIONS
    ae.maximum_pdu_size = settings.DICOM_MAX_PDU
    ae.acse_timeout = settings.DICOM_ACSE_TIMEOUT
    ae.dimse_timeout = settings.DICOM_DIMSE_TIMEOUT
    ae.network_timeout = settings.DICOM_NETWORK_TIMEOUT
    return ae
