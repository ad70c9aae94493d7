"""Crash safety: kill -9 the gateway mid-study; nothing acknowledged is lost.

The gateway runs as a real process (``manage.py run_gateway``) on the test
database; dcmtk's storescu sends a study, the gateway is killed with SIGKILL
after some acknowledgements, restarted, and storescu sends everything again.
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection
from pydicom import dcmread

from core.testing import free_port
from dicom_gateway.simulator import build_study, write_study
from dicom_gateway.storage import FileSystemStorage
from tests.integration.conftest import dcmtk
from worklist.models import Instance

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def _gateway_env(storage: Path, port: int) -> dict[str, str]:
    db = connection.settings_dict
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "teleradio.settings",
        "DEBUG": "False",
        "SECRET_KEY": "kill9-test-" + "k" * 50,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "STORAGE_ROOT": str(storage),
        "DICOM_PORT": str(port),
        "DICOM_BIND_ADDRESS": "127.0.0.1",
        "GATEWAY_METRICS_PORT": "0",
        "LOG_LEVEL": "INFO",
    }


class Process:
    """A subprocess whose output is collected in the background."""

    def __init__(self, args: list[str], env: dict[str, str]):
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 30, count: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while sum(bool(re.search(pattern, line)) for line in list(self.lines)) < count:
            assert time.monotonic() < deadline, f"{pattern!r} not seen:\n" + "\n".join(self.lines[-30:])
            assert self.proc.poll() is None or count == 0, "process exited:\n" + "\n".join(self.lines[-30:])
            time.sleep(0.05)

    def text(self) -> str:
        return "\n".join(self.lines)


def _start_gateway(storage: Path, port: int) -> Process:
    # One listener: the process killed is the one that answers (the supervisor of several is
    # test_run_gateway's).
    gateway = Process([sys.executable, "manage.py", "run_gateway", "--processes", "1"], _gateway_env(storage, port))
    gateway.wait_for(rf"listening on 127\.0\.0\.1:{port}")
    return gateway


def _storescu(port: int, files: list[Path]) -> Process:
    args = [dcmtk("storescu"), "-v", "-aet", "CT_LANDERNEAU", "-aec", "TELERADIO", "127.0.0.1", str(port)]
    return Process([*args, *map(str, files)], {**os.environ, "TCP_NODELAY": "1"})


def _acknowledged(output: list[str]) -> list[Path]:
    """Files storescu saw answered with success (its -v log pairs each send with a response)."""
    acked, current = [], None
    for line in output:
        if match := re.search(r"Sending file: (.+)$", line):
            current = Path(match.group(1).strip())
        elif "Received Store Response (Success)" in line and current is not None:
            acked.append(current)
            current = None
    return acked


def test_kill_9_mid_study_loses_nothing_acknowledged(ct_modality, tmp_path):
    files = write_study(build_study("small", count=400), tmp_path / "study")
    uid_of = {path: dcmread(path, stop_before_pixels=True).SOPInstanceUID for path in files}
    storage, port = tmp_path / "storage", free_port()

    gateway = _start_gateway(storage, port)
    sender = _storescu(port, files)
    sender.wait_for(r"Received Store Response \(Success\)", count=60, timeout=60)
    os.kill(gateway.proc.pid, signal.SIGKILL)
    gateway.proc.wait(timeout=10)
    sender.proc.wait(timeout=60)
    acked = _acknowledged(sender.lines)
    assert 60 <= len(acked) < len(files), "the kill must land mid-study"

    # Restart: every acknowledged instance is indexed and its file is in the store.
    gateway = _start_gateway(storage, port)
    store = FileSystemStorage(storage)
    assert not store.tmp.exists() or list(store.tmp.iterdir()) == [], "orphan temporary files were not cleaned"
    indexed = {i.sop_instance_uid: i for i in Instance.objects.all()}
    for path in acked:
        instance = indexed.get(uid_of[path])
        assert instance is not None, f"{path.name} was acknowledged but is not indexed"
        with store.open(instance.storage_key) as f:
            assert dcmread(f, stop_before_pixels=True).SOPInstanceUID == uid_of[path]

    # The scanner re-sends the whole study: each instance exactly once.
    resend = _storescu(port, files)
    assert resend.proc.wait(timeout=120) == 0, resend.text()[-2000:]
    assert Instance.objects.count() == len(files)
    assert set(Instance.objects.values_list("sop_instance_uid", flat=True)) == set(uid_of.values())
    stored_files = [p for p in storage.rglob("*") if p.is_file() and p.parent != store.tmp]
    assert len(stored_files) == len(files)
    exam = ct_modality.exams.get()
    assert exam.number_of_instances == len(files)

    # SIGTERM: a clean stop.
    gateway.proc.send_signal(signal.SIGTERM)
    assert gateway.proc.wait(timeout=30) == 0, gateway.text()[-2000:]


def test_sigterm_lets_the_running_transfer_finish_then_stops(ct_modality, tmp_path):
    files = write_study(build_study("small", count=300), tmp_path / "study")
    storage, port = tmp_path / "storage", free_port()
    gateway = _start_gateway(storage, port)
    sender = _storescu(port, files)
    sender.wait_for(r"Received Store Response \(Success\)", count=30, timeout=60)
    gateway.proc.send_signal(signal.SIGTERM)
    # The association in flight completes: storescu sees every instance stored.
    assert sender.proc.wait(timeout=60) == 0, sender.text()[-2000:]
    assert len(_acknowledged(sender.lines)) == len(files)
    assert gateway.proc.wait(timeout=30) == 0, gateway.text()[-2000:]
    assert Instance.objects.count() == len(files)
    # And it no longer accepts associations.
    refused = subprocess.run(
        [dcmtk("echoscu"), "-aet", "CT_LANDERNEAU", "-aec", "TELERADIO", "127.0.0.1", str(port)],
        capture_output=True,
        timeout=30,
    )
    assert refused.returncode != 0
