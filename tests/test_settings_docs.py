"""Every variable settings.py reads is documented in README.md and .env.example."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _read_by_settings() -> set[str]:
    text = (ROOT / "teleradio" / "settings.py").read_text()
    names = set(re.findall(r'env\.[a-z]+\(\s*"([A-Z][A-Z0-9_]+)"', text))
    names |= set(re.findall(r'envsecret\("([A-Z][A-Z0-9_]+)"\)', text))
    return names


def test_it_finds_the_settings_variables():
    assert {"DATABASE_URL", "DICOM_PORT", "SECRET_KEY", "EXAM_QUIET_SECONDS"} <= _read_by_settings()


def test_every_variable_is_in_env_example():
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert _read_by_settings() - documented == set()


def test_every_variable_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    assert {name for name in _read_by_settings() if f"`{name}`" not in readme} == set()
