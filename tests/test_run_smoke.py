"""The zero-install run: SQLite, filesystem broker, every Procfile process under honcho.

Mirrors bin/run after its installs: migrate, seed_demo (twice), then
``honcho start``; checks the web answers, the gateway answers C-ECHO (dcmtk's
echoscu), the worker runs a task, and Ctrl-C (SIGINT to honcho) stops it all.
"""

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from core.testing import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
HEALTH_URLS = ("/api/v1/health/", "/login/", "/admin/login/")  # the first that answers 200 wins


def _dcmtk_echoscu() -> str | None:
    """dcmtk's echoscu; pynetdicom installs a different one with the same name in the venv."""
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = shutil.which("echoscu", path=directory)
        if not candidate or Path(candidate).parent.resolve() == VENV_BIN.resolve():
            continue
        version = subprocess.run([candidate, "--version"], capture_output=True, text=True, timeout=10)
        if "dcmtk" in version.stdout.lower():
            return candidate
    return None


def _clean_env(var_dir: Path, web_port: int, dicom_port: int) -> dict[str, str]:
    """Only what a newcomer's shell would have: none of the test settings' overrides."""
    return {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", str(var_dir)),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "teleradio.settings",
        "DEBUG": "True",
        "VAR_DIR": str(var_dir),
        "WEB_BIND": f"127.0.0.1:{web_port}",
        "DICOM_PORT": str(dicom_port),
        "DICOM_BIND_ADDRESS": "127.0.0.1",
        "GATEWAY_METRICS_PORT": "0",
        "EXAM_QUIET_SECONDS": "2",
    }


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _http_ok(base: str) -> str | None:
    """The first health URL that answers 200, or None."""
    for path in HEALTH_URLS:
        try:
            with urllib.request.urlopen(base + path, timeout=3) as response:  # noqa: S310 - local http
                if response.status == 200:
                    return path
        except urllib.error.HTTPError:
            continue  # 404: that page does not exist (yet); try the next one
        except OSError:
            return None  # not listening yet
    return None


def _process_groups_alive(pgids: list[int]) -> list[int]:
    alive = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is the state, fields[2] the process group; zombies are already dead.
        if fields[0] != "Z" and int(fields[2]) in pgids:
            alive.add(int(fields[2]))
    return sorted(alive)


class Output:
    """Collects honcho's output in a thread, so that the test can wait for a line."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if match := regex.search(line):
                    return match
            time.sleep(0.2)
        raise AssertionError(f"no line matching {pattern!r} in {timeout} s:\n" + self.text())

    def text(self) -> str:
        return "\n".join(self.lines[-80:])


def test_zero_install_run(tmp_path):
    var_dir = tmp_path / "var"
    for name in ("broker", "broker-control", "storage", "media", "static"):  # as bin/run does
        (var_dir / name).mkdir(parents=True)
    web_port, dicom_port = free_port(), free_port()
    env = _clean_env(var_dir, web_port, dicom_port)
    empty_env_file = tmp_path / "empty.env"  # so that a developer's .env cannot leak in
    empty_env_file.write_text("")

    _manage(env, "migrate", "--noinput", "-v", "0")
    first = _manage(env, "seed_demo")
    second = _manage(env, "seed_demo")
    assert first.splitlines()[0] == second.splitlines()[0]  # the same counts, nothing duplicated
    assert (var_dir / "teleradio.sqlite3").exists()

    honcho = subprocess.Popen(
        [str(VENV_BIN / "honcho"), "--no-colour", "start", "--procfile", "Procfile", "--env", str(empty_env_file)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = Output(honcho.stdout)
    child_pgids: list[int] = []
    try:
        for name in ("web", "gateway", "worker", "beat"):
            match = output.wait_for(rf"{name}\.1 started \(pid=(\d+)\)", timeout=20)
            # honcho starts each process in its own session: pid == process group.
            child_pgids.append(int(match.group(1)))

        base = f"http://127.0.0.1:{web_port}"
        deadline = time.monotonic() + 30
        while (found := _http_ok(base)) is None:
            assert time.monotonic() < deadline, "the web process did not answer:\n" + output.text()
            assert honcho.poll() is None, "honcho exited:\n" + output.text()
            time.sleep(0.5)
        if found != HEALTH_URLS[0]:
            print(f"note: {HEALTH_URLS[0]} does not answer 200 yet; {found} does")

        output.wait_for(rf"gateway\.1 .*listening on 127\.0\.0\.1:{dicom_port}", timeout=20)
        echoscu = _dcmtk_echoscu()
        if echoscu is None:
            print("note: dcmtk's echoscu is not installed (apt-get install dcmtk): C-ECHO not checked")
        else:
            echo = subprocess.run(
                [echoscu, "-aet", "CT_LANDERNEAU", "-aec", "TELERADIO", "127.0.0.1", str(dicom_port)],
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert echo.returncode == 0, echo.stdout + echo.stderr

        # A study from the simulator, through the gateway, to READY by beat and the worker.
        sent = _manage(env, "simulate_scanner", "--ae", "CT_LANDERNEAU", "--study", "small", "--count", "5")
        assert "5 instance(s) stored" in sent
        # READY, then routed by the worker: to the demo radiologist on duty, or the GHT's pool.
        deadline = time.monotonic() + 40
        ready_query = (
            "from worklist.models import Exam; "
            "print(Exam.objects.filter(status__in=['READY', 'ASSIGNED'], routed_at__isnull=False,"
            " number_of_instances=5).count())"
        )
        while _manage(env, "shell", "--no-startup", "-v", "0", "-c", ready_query).strip() != "1":
            assert time.monotonic() < deadline, "the simulated study never became READY:\n" + output.text()
            time.sleep(1)

        # The routing above ran in the worker, queued by beat through the filesystem
        # broker: the READY and routed exam proves the whole chain.
        assert "Traceback" not in output.text(), output.text()

        # Ctrl-C in a terminal: SIGINT to honcho's group (its children have their own).
        started = time.monotonic()
        os.killpg(honcho.pid, signal.SIGINT)
        honcho.wait(timeout=15)
        deadline = started + 15
        while _process_groups_alive(child_pgids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _process_groups_alive(child_pgids), "processes left running:\n" + output.text()
        assert "SIGINT received" in output.text()
    finally:
        for pgid in [honcho.pid, *child_pgids]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        if honcho.poll() is None:
            honcho.wait(timeout=5)
