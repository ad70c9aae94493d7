"""docker-compose.yml runs the same processes as the Procfile, with durable volumes."""

import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
APP_PROCESSES = ("web", "gateway", "worker", "beat")


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _procfile() -> dict[str, list[str]]:
    processes = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, command = line.split(":", 1)
            processes[name.strip()] = shlex.split(command)
    return processes


def _argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else list(command)


def test_every_service_exists():
    services = _compose()["services"]
    for name in ("db", "redis", *APP_PROCESSES):
        assert name in services, name


def test_procfile_has_the_four_processes():
    assert set(_procfile()) == set(APP_PROCESSES)


def test_app_services_run_the_procfile_commands():
    services = _compose()["services"]
    procfile = _procfile()
    for name in APP_PROCESSES:
        assert _argv(services[name]["command"]) == procfile[name], name
        assert "build" in services[name], f"{name} must build from the Dockerfile"


def test_database_and_image_store_are_volumes():
    compose = _compose()
    assert {"db-data", "storage"} <= set(compose["volumes"])
    services = compose["services"]
    assert any(v.startswith("db-data:") for v in services["db"]["volumes"])
    for name in APP_PROCESSES:
        env = services[name]["environment"]
        assert any(v.startswith("storage:") and v.endswith(env["STORAGE_ROOT"]) for v in services[name]["volumes"])


def test_production_settings_in_compose():
    services = _compose()["services"]
    for name in APP_PROCESSES:
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["CELERY_BROKER_URL"].startswith("redis://redis:")
        assert env["DEBUG"] == "False"
        assert env["SECRET_KEY_FILE"].startswith("/run/secrets/")
    assert "11112:11112" in services["gateway"]["ports"]
