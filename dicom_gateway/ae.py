"""The gateway's DICOM Application Entity: where it listens, what it accepts, its limits.

All from settings, in one place. Who may send is data (sites.Modality, checked
in handlers.association_requested); the protocol is dicom_gateway.upper_layer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from pynetdicom import ALL_TRANSFER_SYNTAXES, DEFAULT_TRANSFER_SYNTAXES, AllStoragePresentationContexts
from pynetdicom.presentation import PresentationContext, build_context
from pynetdicom.sop_class import ModalityWorklistInformationFind, Verification


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


# More listeners than this add database connections and memory, not throughput.
MAX_AUTO_PROCESSES = 8


def gateway_processes(setting: int, *, cores: int | None, database_vendor: str) -> int:
    """How many listener processes share the port (``DICOM_GATEWAY_PROCESSES``).

    A positive setting is taken as is. 0 means one per core, since one process
    is bound by the GIL to about one core while several scanners send; but one
    with SQLite (the zero-install default), whose single writer several
    processes would only queue behind.
    """
    if setting > 0:
        return setting
    if database_vendor == "sqlite":
        return 1
    return max(1, min(cores or 1, MAX_AUTO_PROCESSES))


def default_gateway_processes() -> int:
    return gateway_processes(settings.DICOM_GATEWAY_PROCESSES, cores=os.cpu_count(), database_vendor=connection.vendor)


@dataclass(frozen=True)
class AcceptorConfig:
    """What the gateway accepts and its limits, from settings (``acceptor_config()``)."""

    ae_title: str
    contexts: list[PresentationContext]
    max_associations: int
    max_pdu: int  # Maximum Length Received we announce; 0 = unlimited
    acse_timeout: float
    network_timeout: float  # an association silent this long is aborted
    # One C-STORE's dataset is held in memory until stored: larger ones are refused (0xA700).
    max_instance_bytes: int = 0  # 0 = no limit


def supported_contexts() -> list[PresentationContext]:
    """Verification and every standard storage SOP class in any transfer syntax; the Modality Worklist.

    The gateway stores the bytes as received and never decodes pixel data, so
    compressed syntaxes are accepted as they are. No other C-FIND: no Query/Retrieve here.
    """
    contexts = [build_context(Verification, ALL_TRANSFER_SYNTAXES)]
    contexts += [build_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES) for cx in AllStoragePresentationContexts]
    contexts.append(build_context(ModalityWorklistInformationFind, DEFAULT_TRANSFER_SYNTAXES))
    return contexts


def acceptor_config() -> AcceptorConfig:
    return AcceptorConfig(
        ae_title=settings.DICOM_AE_TITLE,
        contexts=supported_contexts(),
        max_associations=settings.DICOM_MAX_ASSOCIATIONS,
        max_pdu=settings.DICOM_MAX_PDU,
        acse_timeout=settings.DICOM_ACSE_TIMEOUT,
        network_timeout=settings.DICOM_NETWORK_TIMEOUT,
        max_instance_bytes=settings.DICOM_MAX_INSTANCE_BYTES,
    )
