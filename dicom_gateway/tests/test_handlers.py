import pytest

from dicom_gateway.ae import acceptor_config
from dicom_gateway.handlers import modality_for_peer
from sites.tests.factories import ModalityFactory


@pytest.mark.django_db
def test_it_accepts_an_enabled_modality(site_a):
    modality = ModalityFactory(site=site_a, ae_title="CT_A")
    assert modality_for_peer("CT_A", "10.1.2.3") == (modality, "")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ({"ae_title": "OTHER"}, "unknown calling AE title"),
        ({"enabled": False}, "modality disabled"),
    ],
)
def test_it_refuses_unknown_or_disabled_modalities(site_a, setup, reason):
    ModalityFactory(site=site_a, **{"ae_title": "CT_A", **setup})
    assert modality_for_peer("CT_A", "10.1.2.3") == (None, reason)


@pytest.mark.django_db
def test_it_refuses_a_modality_of_an_inactive_site(site_a):
    ModalityFactory(site=site_a, ae_title="CT_A")
    site_a.active = False
    site_a.save()
    assert modality_for_peer("CT_A", "10.1.2.3") == (None, "site inactive")


@pytest.mark.django_db
def test_it_checks_the_peer_address_when_asked(site_a, settings):
    modality = ModalityFactory(site=site_a, ae_title="CT_A", host="10.1.2.3")
    assert modality_for_peer("CT_A", "10.9.9.9") == (modality, "")
    settings.DICOM_CHECK_PEER_IP = True
    assert modality_for_peer("CT_A", "10.9.9.9") == (None, "peer address does not match the modality's host")
    assert modality_for_peer("CT_A", "10.1.2.3") == (modality, "")


def test_the_ae_takes_its_limits_from_settings(settings):
    settings.DICOM_AE_TITLE = "GATEWAY_X"
    settings.DICOM_MAX_ASSOCIATIONS = 3
    settings.DICOM_MAX_PDU = 65536
    settings.DICOM_NETWORK_TIMEOUT = 42.0
    config = acceptor_config()
    assert (config.ae_title, config.max_associations, config.max_pdu, config.network_timeout) == (
        "GATEWAY_X",
        3,
        65536,
        42.0,
    )
    syntaxes = {cx.abstract_syntax for cx in config.contexts}
    assert "1.2.840.10008.5.1.4.1.1.2" in syntaxes  # CT Image Storage
    assert "1.2.840.10008.5.1.4.1.1.4.1" in syntaxes  # Enhanced MR
    assert "1.2.840.10008.5.1.4.1.1.104.1" in syntaxes  # Encapsulated PDF
    assert "1.2.840.10008.1.1" in syntaxes  # Verification


@pytest.mark.parametrize(
    ("sop_class", "sop_instance", "transfer_syntax"),
    [
        ("1.2.840.10008.5.1.4.1.1.2", "1.2.3.4", "1.2.840.10008.1.2"),  # even lengths, implicit VR
        ("1.2.840.10008.5.1.4.1.1.4", "1.2.3.45", "1.2.840.10008.1.2.1"),  # odd UID, explicit VR
        ("1.2.840.10008.5.1.4.1.1.104.1", "2.25." + "9" * 39, "1.2.840.10008.1.2.4.50"),  # JPEG
        ("1.2.840.10008.5.1.4.1.1.4.1", "1.2.826.0.1.3680043.8.498.1", "1.2.840.10008.1.2.1.99"),  # deflate
    ],
)
def test_the_part10_header_is_byte_for_byte_pynetdicoms(sop_class, sop_instance, transfer_syntax):
    # Same bytes, same content-addressed key: files stored before this encoder are re-sends.
    from io import BytesIO

    from pynetdicom import evt
    from pynetdicom.dimse_primitives import C_STORE
    from pynetdicom.events import Event
    from pynetdicom.presentation import PresentationContextTuple

    from dicom_gateway.handlers import part10_header

    dataset = b"\x08\x00\x18\x00UI\x08\x001.2.3.4\x00"
    request = C_STORE()
    request.AffectedSOPClassUID = sop_class
    request.AffectedSOPInstanceUID = sop_instance
    request.DataSet = BytesIO(dataset)
    context = PresentationContextTuple(1, sop_class, transfer_syntax)
    event = Event(None, evt.EVT_C_STORE, {"request": request, "context": context})
    assert part10_header(sop_class, sop_instance, transfer_syntax) + dataset == event.encoded_dataset()


def _body(data: bytes) -> bytes:
    # What a C-STORE carries: the dataset after the preamble and the File Meta Information.
    return data[144 + int.from_bytes(data[140:144], "little") :]


def _association_sending(site, count: int):
    from pydicom.uid import generate_uid

    from dicom_gateway import handlers
    from dicom_gateway.tests.dicom_factories import encode, make_dataset

    stats = handlers.AssociationStats(calling_ae="CT_A", peer="127.0.0.1", modality=ModalityFactory(site=site))
    study, series = generate_uid(), generate_uid()
    for number in range(1, count + 1):
        ds = make_dataset(StudyInstanceUID=study, SeriesInstanceUID=series, InstanceNumber=number)
        status = handlers.store(
            stats,
            abstract_syntax=str(ds.SOPClassUID),
            sop_class_uid=str(ds.SOPClassUID),
            sop_instance_uid=str(ds.SOPInstanceUID),
            transfer_syntax="1.2.840.10008.1.2.1",
            dataset=_body(encode(ds)),
        )
        assert status == 0
    return stats


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("ending", ["release", "abort"])
def test_an_association_settles_the_counts_it_owes_before_it_ends(site_a, settings, tmp_path, ending):
    from dicom_gateway import handlers
    from worklist.models import Exam

    settings.STORAGE_ROOT = tmp_path / "store"
    stats = _association_sending(site_a, 4)
    exam = Exam.objects.get()
    assert exam.number_of_instances == 1 and list(stats.series.owed) == [exam.pk]  # the next three are owed
    if ending == "release":
        handlers.release_requested(stats)  # before A-RELEASE-RP: the scanner then sees right counts
    else:
        handlers.association_closed(stats)  # after an abort or a lost connection
    exam.refresh_from_db()
    assert exam.number_of_instances == 4 and not stats.series.owed


@pytest.mark.parametrize(
    ("setting", "cores", "vendor", "expected"),
    [
        (3, 2, "postgresql", 3),  # as set
        (1, 16, "postgresql", 1),
        (0, 2, "postgresql", 2),  # one per core
        (0, 64, "postgresql", 8),  # within reason
        (0, None, "postgresql", 1),
        (0, 8, "sqlite", 1),  # one writer anyway
    ],
)
def test_the_gateway_runs_one_listener_per_core_by_default(setting, cores, vendor, expected):
    from dicom_gateway.ae import gateway_processes

    assert gateway_processes(setting, cores=cores, database_vendor=vendor) == expected
