"""The English catalogue is complete, compiled, and used by the pages.

The French msgids are the source text. The compiled .mo is committed, because a
fresh CI machine may not have gettext's msgfmt; these tests fail when someone
adds a French string without translating it, or edits the .po without
recompiling the .mo:

    DEBUG=1 python manage.py makemessages -l en -i ".venv/*" -i "node_modules/*" -i "var/*"
    msgfmt --check -o locale/en/LC_MESSAGES/django.mo locale/en/LC_MESSAGES/django.po

The .po is read with a small parser below: polib is not worth a dependency.
"""

import ast
import gettext
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from core.templatetags.dicom import person_name

LOCALE_DIR = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES"
PO_PATH = LOCALE_DIR / "django.po"
MO_PATH = LOCALE_DIR / "django.mo"
TEMPLATES_DIR = Path(settings.BASE_DIR) / "templates"
# First-party Python code whose gettext calls makemessages extracts.
APP_DIRS = ("core", "sites", "worklist", "reports", "dicom_gateway", "teleradio")

PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


@dataclass
class PoEntry:
    msgid: str
    msgid_plural: str | None
    msgstrs: list[str]
    flags: set[str]


def _po_string(line: str) -> str:
    # A PO string is a C string literal, which a Python literal reads the same way.
    return ast.literal_eval(line)


def read_po(path: Path) -> list[PoEntry]:
    """Parse the entries of a PO file (header excluded)."""
    entries = []
    for block in path.read_text(encoding="utf-8").strip().split("\n\n"):
        fields: dict[str, str] = {}
        flags: set[str] = set()
        current = None
        for line in block.splitlines():
            if line.startswith("#,"):
                flags |= {flag.strip() for flag in line[2:].split(",")}
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                fields[current] += _po_string(line)
            else:
                current, _, value = line.partition(" ")
                fields[current] = _po_string(value)
        if fields.get("msgid", "") == "":
            continue  # the header, or an obsolete (#~) entry
        plural = fields.get("msgid_plural")
        msgstrs = [fields["msgstr[0]"], fields["msgstr[1]"]] if plural is not None else [fields["msgstr"]]
        entries.append(PoEntry(fields["msgid"], plural, msgstrs, flags))
    return entries


@pytest.fixture(scope="module")
def po_entries() -> list[PoEntry]:
    return read_po(PO_PATH)


@pytest.fixture(scope="module")
def mo() -> gettext.GNUTranslations:
    with MO_PATH.open("rb") as fp:
        return gettext.GNUTranslations(fp)


def test_it_translates_every_msgid(po_entries):
    untranslated = [e.msgid for e in po_entries if not all(e.msgstrs)]
    fuzzy = [e.msgid for e in po_entries if "fuzzy" in e.flags]
    assert not untranslated, "Translate these in locale/en/LC_MESSAGES/django.po"
    assert not fuzzy, "Check these translations and remove their #, fuzzy flag"


def test_it_keeps_the_placeholders_of_each_msgid(po_entries):
    for entry in po_entries:
        expected = set(PLACEHOLDER.findall(entry.msgid))
        for msgstr in entry.msgstrs:
            assert set(PLACEHOLDER.findall(msgstr)) == expected, entry.msgid


def test_the_committed_mo_is_compiled_from_the_po(po_entries, mo):
    for entry in po_entries:
        if entry.msgid_plural is None:
            assert mo.gettext(entry.msgid) == entry.msgstrs[0], f"recompile the .mo: {entry.msgid!r}"
        else:
            assert mo.ngettext(entry.msgid, entry.msgid_plural, 1) == entry.msgstrs[0], entry.msgid
            assert mo.ngettext(entry.msgid, entry.msgid_plural, 2) == entry.msgstrs[1], entry.msgid
    # Nothing left over in the .mo from strings removed from the .po.
    mo_msgids = {key[0] if isinstance(key, tuple) else key for key in mo._catalog} - {""}
    assert mo_msgids == {e.msgid for e in po_entries}


def _template_msgids() -> set[str]:
    """French literals of {% translate %}, _("…") and plain {% blocktranslate %} in templates/."""
    msgids = set()
    for path in TEMPLATES_DIR.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        msgids |= set(re.findall(r"""\{%\s*(?:translate|trans)\s+"([^"]+)"[^%]*%\}""", text))
        msgids |= set(re.findall(r"""\{%\s*(?:translate|trans)\s+'([^']+)'[^%]*%\}""", text))
        msgids |= set(re.findall(r"""\b_\("([^"]+)"\)""", text))
        for body in re.findall(r"\{%\s*blocktranslate[^%]*%\}(.*?)\{%\s*endblocktranslate\s*%\}", text, re.S):
            for part in body.split("{% plural %}"):
                msgids.add(re.sub(r"\{\{\s*(\w+)\s*\}\}", r"%(\1)s", part))
    return msgids


def _python_msgids() -> set[str]:
    """Single-literal _("…") calls in first-party code (the common case; not a full extractor)."""
    msgids = set()
    for app in APP_DIRS:
        for path in (Path(settings.BASE_DIR) / app).rglob("*.py"):
            if "tests" in path.parts or "migrations" in path.parts:
                continue
            text = path.read_text(encoding="utf-8")
            msgids |= {_po_string(f'"{m}"') for m in re.findall(r'\b_\(\s*"((?:[^"\\]|\\.)*)"\s*[,)]', text)}
    return msgids


def test_the_extractor_finds_the_key_ui_strings():
    # Guards the regexes above: if they found nothing, the next test would pass vacuously.
    found = _template_msgids() | _python_msgids()
    for msgid in ("Liste de travail", "Tableau du site", "Connexion", "Langue", "%(n)s examen en attente."):
        assert msgid in found
    assert "urgence vitale" in found


def test_every_french_ui_string_has_an_english_translation(po_entries):
    translated = {msgid for e in po_entries if all(e.msgstrs) for msgid in (e.msgid, e.msgid_plural) if msgid}
    missing = sorted((_template_msgids() | _python_msgids()) - translated)
    assert not missing, "Run makemessages, then translate and compile: " + repr(missing)


# --- the pages really speak English --------------------------------------------------


@pytest.mark.django_db
def test_the_login_page_is_in_english_for_an_english_browser(client):
    body = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en">' in body
    assert "<h1>Log in</h1>" in body
    assert "Username" in body
    assert "Password" in body
    assert "Connexion" not in body


@pytest.mark.django_db
def test_a_wrong_password_is_reported_in_english(client, radiologist_a):
    response = client.post("/login/", {"username": "rad_a", "password": "nope"}, HTTP_ACCEPT_LANGUAGE="en")
    assert "Incorrect username or password." in response.content.decode()


@pytest.mark.django_db
def test_an_english_speaking_radiologist_reads_the_worklist_in_english(client, radiologist_a, exam_a):
    client.force_login(radiologist_a)
    body = client.get("/worklist/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<h1>Worklist</h1>" in body
    assert "1 exam waiting." in body
    for header in ("Priority", "Site", "Received", "Status", "Assigned to"):
        assert f"<th>{header}</th>" in body
    assert "Log out" in body
    assert "Liste de travail" not in body
    assert person_name(exam_a.patient_name) in body


@pytest.mark.django_db
def test_the_language_switcher_keeps_english_for_the_session(client, merm_a, exam_a):
    client.force_login(merm_a)
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/board/"})
    assert response.status_code == 302
    body = client.get("/board/").content.decode()
    assert "<h1>Site board</h1>" in body
    assert "Exams of the last 24 hours" in body


@pytest.mark.django_db
def test_french_stays_the_default(client, radiologist_a):
    client.force_login(radiologist_a)
    body = client.get("/worklist/").content.decode()
    assert "<h1>Liste de travail</h1>" in body
    assert '<html lang="fr">' in body
