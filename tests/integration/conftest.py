"""The real gateway on a loopback port, driven by dcmtk like a real scanner."""

import os
import shutil
import subprocess
from pathlib import Path

import pydicom
import pytest

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
VENV_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"


def dcmtk(tool: str) -> str:
    """Path of dcmtk's ``tool`` (pynetdicom installs look-alikes in the venv)."""
    for directory in ["/usr/bin", "/usr/local/bin", *os.environ.get("PATH", "").split(os.pathsep)]:
        candidate = shutil.which(tool, path=directory)
        if candidate and Path(candidate).parent.resolve() != VENV_BIN.resolve():
            return candidate
    pytest.fail(f"dcmtk's {tool} is missing: bin/test installs it (apt-get install dcmtk)")


def run_dcmtk(tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    # storescu/storescp honour TCP_NODELAY=1 (dcmtk disables Nagle's algorithm then).
    env = {**os.environ, "TCP_NODELAY": "1"}
    return subprocess.run([dcmtk(tool), *args], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture
def gateway(transactional_db, settings, tmp_path):
    """Our gateway in this process, on a free loopback port, storing under tmp_path."""
    from dicom_gateway.ae import acceptor_config
    from dicom_gateway.upper_layer import Gateway

    settings.STORAGE_ROOT = tmp_path / "storage"
    settings.DICOM_AE_TITLE = "TELERADIO"
    running = Gateway(acceptor_config(), "127.0.0.1", 0)
    running.start()
    yield running
    running.stop(grace_seconds=5)


@pytest.fixture
def ct_modality(transactional_db):
    from sites.tests.factories import ModalityFactory, SiteFactory

    return ModalityFactory(site=SiteFactory(name="CH Landerneau"), ae_title="CT_LANDERNEAU")
