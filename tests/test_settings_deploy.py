"""Production settings pass Django's deployment checks; a missing SECRET_KEY stops the start."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A production environment, free of the overrides teleradio.settings_test put in os.environ."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "teleradio.settings",
        "DEBUG": "False",
        "ALLOWED_HOSTS": "teleradio.example.org",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        "VAR_DIR": str(tmp_path / "var"),
    }
    env.update(extra)
    return env


def _check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy(tmp_path):
    env = _production_env(tmp_path, SECRET_KEY=secrets.token_urlsafe(50))
    result = _check_deploy(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_secret_key_from_a_file(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text(secrets.token_urlsafe(50) + "\n")
    result = _check_deploy(_production_env(tmp_path, SECRET_KEY_FILE=str(key_file)))
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_without_secret_key_refuses_to_start(tmp_path):
    result = _check_deploy(_production_env(tmp_path))
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
