import pytest

from dicom_gateway.ae import build_ae
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
    ae = build_ae()
    assert (ae.ae_title, ae.maximum_associations, ae.maximum_pdu_size, ae.network_timeout) == (
        "GATEWAY_X",
        3,
        65536,
        42.0,
    )
    syntaxes = {cx.abstract_syntax for cx in ae.supported_contexts}
    assert "1.2.840.10008.5.1.4.1.1.2" in syntaxes  # CT Image Storage
    assert "1.2.840.10008.5.1.4.1.1.4.1" in syntaxes  # Enhanced MR
    assert "1.2.840.10008.5.1.4.1.1.104.1" in syntaxes  # Encapsulated PDF
    assert "1.2.840.10008.1.1" in syntaxes  # Verification
