"""Demo data: a believable, entirely synthetic organisation, and its idempotent loader.

Two Breton GHTs pooled by a regional platform, and a GHT in French Guiana whose
CT and MRI are read remotely by neuroradiologists of CHU Rennes (another time
zone). Every person, number and patient here is invented:

- FINESS numbers use a "999" block after the department code (29 Finistère,
  35 Ille-et-Vilaine, 9C Guyane) and a valid Luhn key;
- RPPS numbers start with 99 (real ones start with 10) and have a valid key;
- phone numbers are in the 02 61 91 block reserved for fiction by the ARCEP;
- hosts are in the documentation ranges (RFC 5737), so nothing is ever sent
  to a real machine;
- patients are named DEMO^Patient^… and their UIDs are under the 2.25 root.

Rotas: a CT on-call (PDS) line and scheduled sessions for GHT Bretagne
Occidentale, a regional stroke (neuro AVC) line held by neuroradiologists of
both Breton GHTs, and the Rennes neuroradiologists' lines for CH Cayenne; this
month and the next are generated from the French default templates, filled
round robin and published, so that routing finds a reader at any time.

The data is plain structures so that it reads like a table; ``demo_load``
writes it with update_or_create on natural keys (FINESS, AE title, username,
RPPS, Study Instance UID), so running it twice changes nothing.
"""

import datetime
import logging
import uuid
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from core.exceptions import ApplicationError
from reports.models import ReportTemplate
from reports.services import report_templates_install_defaults
from sites.identifiers import luhn_key
from sites.models import (
    Credential,
    Ght,
    Modality,
    PacsNode,
    Radiologist,
    Region,
    Role,
    RotaLine,
    RotaMonth,
    Shift,
    Site,
    Subspecialty,
    Technologist,
    User,
)
from sites.rota_validation import is_night
from sites.rotas import rota_line_create_defaults, rota_month_generate, rota_month_next, rota_month_publish
from sites.selectors import radiologist_list_eligible_for_line
from worklist.models import Exam, ExamCatalogueItem, ExamStatus, Priority
from worklist.services import exam_catalogue_install_defaults

logger = logging.getLogger(__name__)

# One password for every demo account, printed by seed_demo and in README.md.
DEMO_PASSWORD = "teleradio-demo"  # noqa: S105 - published on purpose: demo accounts only
DEMO_EMAIL_DOMAIN = "demo.teleradio.example"
# Credentials of the demo start on a fixed day, so that reloading changes nothing.
CREDENTIALS_FROM = datetime.date(2024, 1, 1)
# Study Instance UIDs: 2.25.<decimal of a UUID> (PS3.5 §B.2), derived from a name.
_UID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://teleradio.example/demo")


def fictitious_finess(department: str, number: int) -> str:
    """A FINESS number in the unused "999" block of ``department``, with its Luhn key."""
    body = f"{department}999{number:03d}"
    if body.isdigit():
        return body + luhn_key(body)
    # Overseas codes (9A–9F) are not all digits: the key is not checked there.
    return body + "0"


def fictitious_rpps(number: int) -> str:
    """An RPPS number starting with 99 (real ones start with 10), with its Luhn key."""
    body = f"99{number:08d}"
    return body + luhn_key(body)


def demo_uid(name: str) -> str:
    """A deterministic UID under the 2.25 root for the demo object called ``name``."""
    return f"2.25.{uuid.uuid5(_UID_NAMESPACE, name).int}"


@dataclass(frozen=True)
class DemoGht:
    key: str
    name: str
    short_name: str
    in_region: bool
    timezone: str = "Europe/Paris"


@dataclass(frozen=True)
class DemoSite:
    key: str  # also the suffix of AE titles and MERM usernames
    ght: str
    name: str
    short_name: str
    finess: str
    address: str
    duty_phone: str
    timezone: str = "Europe/Paris"
    holiday_subdivision: str = ""  # extra public holidays for rotas (e.g. "973" Guyane)


@dataclass(frozen=True)
class DemoPerson:
    username: str
    first_name: str
    last_name: str
    role: Role
    ght: str | None  # None only for the platform administrator


@dataclass(frozen=True)
class DemoRadiologist:
    username: str
    first_name: str
    last_name: str
    ght: str
    rpps: str
    subspecialties: tuple[str, ...]  # codes of sites/migrations/0002_subspecialties.py
    credentials: tuple[tuple[str, Credential.Contract], ...]  # (site key, contract)


@dataclass(frozen=True)
class DemoExam:
    key: str
    site: str
    modality: str  # "CT" or "MR"
    description: str
    body_part: str
    patient_name: str
    patient_sex: str
    birth_date: datetime.date
    priority: Priority
    status: ExamStatus
    received_minutes_ago: int
    assigned_to: str | None = None
    instances: int = 120


REGION = {"name": "Plateforme régionale d'imagerie de Bretagne", "short_name": "PRIB"}

GHTS = (
    DemoGht("bo", "GHT Bretagne Occidentale", "GHT BO", in_region=True),
    DemoGht("hb", "GHT Haute-Bretagne", "GHT HB", in_region=True),
    DemoGht("gf", "GHT Guyane", "GHT Guyane", in_region=False, timezone="America/Cayenne"),
)

H = Credential.Contract.HOSPITAL
T = Credential.Contract.TELERADIOLOGY
P = Credential.Contract.PRIVATE

# fmt: off
SITES = (
    DemoSite("BREST", "bo", "CHU de Brest", "CHU Brest", fictitious_finess("29", 1),
             "2 avenue Foch, 29200 Brest", "02 61 91 01 01"),
    DemoSite("LANDERNEAU", "bo", "CH de Landerneau", "CH Landerneau", fictitious_finess("29", 2),
             "Route de Pencran, 29800 Landerneau", "02 61 91 01 02"),
    DemoSite("CARHAIX", "bo", "CH de Carhaix", "CH Carhaix", fictitious_finess("29", 3),
             "Rue Docteur Menguy, 29270 Carhaix-Plouguer", "02 61 91 01 03"),
    DemoSite("RENNES", "hb", "CHU de Rennes", "CHU Rennes", fictitious_finess("35", 1),
             "2 rue Henri Le Guilloux, 35000 Rennes", "02 61 91 02 01"),
    DemoSite("VITRE", "hb", "CH de Vitré", "CH Vitré", fictitious_finess("35", 2),
             "30 route de Rennes, 35500 Vitré", "02 61 91 02 02"),
    DemoSite("CAYENNE", "gf", "CH de Cayenne", "CH Cayenne", fictitious_finess("9C", 1),
             "Avenue des Flamboyants, 97300 Cayenne", "02 61 91 03 01", timezone="America/Cayenne",
             holiday_subdivision="973"),
)
# fmt: on

ADMINS = (
    DemoPerson("admin", "Morgane", "Le Roux", Role.PLATFORM_ADMIN, None),
    DemoPerson("admin.brest", "Nolwenn", "Le Floc'h", Role.GHT_ADMIN, "bo"),
    DemoPerson("admin.rennes", "Pierre", "Gicquel", Role.GHT_ADMIN, "hb"),
    DemoPerson("admin.cayenne", "Sandrine", "Joseph", Role.GHT_ADMIN, "gf"),
)

# One MERM per site, named merm.<site key in lower case>.
TECHNOLOGISTS = (
    DemoPerson("merm.brest", "Maïwenn", "Le Goff", Role.TECHNOLOGIST, "bo"),
    DemoPerson("merm.landerneau", "Gaël", "Bihan", Role.TECHNOLOGIST, "bo"),
    DemoPerson("merm.carhaix", "Armelle", "Le Meur", Role.TECHNOLOGIST, "bo"),
    DemoPerson("merm.rennes", "Julien", "Lebreton", Role.TECHNOLOGIST, "hb"),
    DemoPerson("merm.vitre", "Aurélie", "Chevalier", Role.TECHNOLOGIST, "hb"),
    DemoPerson("merm.cayenne", "Kévin", "Alexandre", Role.TECHNOLOGIST, "gf"),
)

# fmt: off
RADIOLOGISTS = (
    # GHT Bretagne Occidentale: CHU Brest reads for Landerneau and Carhaix.
    DemoRadiologist("dr.martin", "Camille", "Martin", "bo", fictitious_rpps(1), ("neuro", "emergency"),
                    (("BREST", H), ("LANDERNEAU", T), ("CARHAIX", T))),
    DemoRadiologist("dr.legall", "Yann", "Le Gall", "bo", fictitious_rpps(2), ("abdo",),
                    (("BREST", H), ("LANDERNEAU", T), ("CARHAIX", T))),
    DemoRadiologist("dr.kerboul", "Maëlle", "Kerboul", "bo", fictitious_rpps(3), ("msk",),
                    (("BREST", H), ("CARHAIX", T), ("LANDERNEAU", T))),
    DemoRadiologist("dr.quemener", "Erwan", "Quéméner", "bo", fictitious_rpps(4), ("thorax", "emergency"),
                    (("BREST", H), ("LANDERNEAU", T), ("CARHAIX", T))),
    DemoRadiologist("dr.morvan", "Soizic", "Morvan", "bo", fictitious_rpps(5), ("pediatric",),
                    (("BREST", H),)),
    DemoRadiologist("dr.tanguy", "Gwenaël", "Tanguy", "bo", fictitious_rpps(6), ("ent",),
                    (("LANDERNEAU", H), ("BREST", T))),
    DemoRadiologist("dr.guivarch", "Anne", "Guivarc'h", "bo", fictitious_rpps(7), ("breast",),
                    (("CARHAIX", H), ("BREST", T))),
    # GHT Haute-Bretagne: CHU Rennes reads for Vitré; its neuroradiologists
    # also read for CH Cayenne under a teleradiology agreement, and two of them
    # hold the regional stroke (AVC) line of the Finistère sites.
    DemoRadiologist("dr.lebris", "Tristan", "Le Bris", "hb", fictitious_rpps(8), ("neuro",),
                    (("RENNES", H), ("VITRE", T), ("CAYENNE", T))),
    DemoRadiologist("dr.hamon", "Clémence", "Hamon", "hb", fictitious_rpps(9), ("neuro", "interventional"),
                    (("RENNES", H), ("CAYENNE", T), ("BREST", T), ("LANDERNEAU", T), ("CARHAIX", T))),
    DemoRadiologist("dr.jaouen", "Katell", "Jaouen", "hb", fictitious_rpps(10), ("neuro", "ent"),
                    (("RENNES", H), ("CAYENNE", T), ("BREST", T), ("LANDERNEAU", T), ("CARHAIX", T))),
    DemoRadiologist("dr.guillou", "Gaëlle", "Guillou", "hb", fictitious_rpps(16), ("neuro",),
                    (("RENNES", H), ("CAYENNE", T), ("BREST", T), ("LANDERNEAU", T), ("CARHAIX", T))),
    DemoRadiologist("dr.riou", "Mathieu", "Riou", "hb", fictitious_rpps(11), ("cardiac", "thorax"),
                    (("RENNES", H), ("VITRE", T))),
    DemoRadiologist("dr.cadiou", "Léa", "Cadiou", "hb", fictitious_rpps(12), ("uro", "abdo"),
                    (("RENNES", H), ("VITRE", T))),
    DemoRadiologist("dr.prigent", "Loïc", "Prigent", "hb", fictitious_rpps(13), ("emergency",),
                    (("VITRE", H), ("RENNES", T))),
    # Private radiologists of the regional platform, reading for both Breton GHTs.
    DemoRadiologist("dr.salaun", "Ronan", "Salaün", "bo", fictitious_rpps(14), ("msk", "emergency"),
                    (("LANDERNEAU", P), ("CARHAIX", P), ("VITRE", P))),
    DemoRadiologist("dr.lefur", "Élodie", "Le Fur", "hb", fictitious_rpps(15), ("abdo", "uro"),
                    (("VITRE", P), ("LANDERNEAU", P))),
)

EXAMS = (
    DemoExam("landerneau-head-ct", "LANDERNEAU", "CT", "Scanner cérébral sans injection", "HEAD",
             "DEMO^Patient^Un", "M", datetime.date(1948, 3, 12), Priority.URGENT, ExamStatus.READY, 25),
    DemoExam("carhaix-chest-cta", "CARHAIX", "CT", "Angioscanner thoracique (embolie pulmonaire ?)", "CHEST",
             "DEMO^Patient^Deux", "F", datetime.date(1967, 9, 30), Priority.VITAL, ExamStatus.ASSIGNED, 12,
             assigned_to="dr.quemener", instances=480),
    DemoExam("vitre-abdo-ct", "VITRE", "CT", "Scanner abdomino-pelvien injecté", "ABDOMEN",
             "DEMO^Patient^Trois", "F", datetime.date(1981, 1, 5), Priority.STANDARD, ExamStatus.READY, 95,
             instances=350),
    DemoExam("vitre-knee-mr", "VITRE", "MR", "IRM du genou droit", "KNEE",
             "DEMO^Patient^Quatre", "M", datetime.date(1995, 6, 21), Priority.SCHEDULED, ExamStatus.READY, 300),
    DemoExam("cayenne-brain-mr", "CAYENNE", "MR", "IRM cérébrale (AVC ?)", "BRAIN",
             "DEMO^Patient^Cinq", "M", datetime.date(1959, 11, 2), Priority.URGENT, ExamStatus.READY, 40,
             instances=600),
    DemoExam("rennes-spine-mr", "RENNES", "MR", "IRM du rachis cervical", "CSPINE",
             "DEMO^Patient^Six", "F", datetime.date(1973, 4, 17), Priority.STANDARD, ExamStatus.ASSIGNED, 150,
             assigned_to="dr.hamon", instances=400),
    DemoExam("brest-head-ct", "BREST", "CT", "Scanner cérébral (traumatisme crânien)", "HEAD",
             "DEMO^Patient^Sept", "M", datetime.date(2001, 8, 8), Priority.URGENT, ExamStatus.RECEIVING, 2,
             instances=80),
)
# fmt: on


@dataclass(frozen=True)
class DemoRotaLine:
    ght: str
    name: str
    kind: RotaLine.Kind
    sites: tuple[str, ...]
    subspecialty: str | None = None
    modality_types: str = ""
    regional: bool = False  # a line of the regional platform, planned by ``ght``


# Lines with the French default slots (sites.rota.DEFAULT_TEMPLATES).
# fmt: off
ROTA_LINES = (
    DemoRotaLine("bo", "PDS scanner GHT Bretagne Occidentale", RotaLine.Kind.ON_CALL,
                 ("BREST", "LANDERNEAU", "CARHAIX"), modality_types="CT"),
    DemoRotaLine("bo", "Vacations programmées CHU Brest", RotaLine.Kind.SCHEDULED, ("BREST",)),
    DemoRotaLine("bo", "Neuro AVC régional", RotaLine.Kind.ON_CALL, ("BREST", "LANDERNEAU", "CARHAIX"),
                 subspecialty="neuro", regional=True),
    DemoRotaLine("gf", "Neuroradiologie CH Cayenne (CHU Rennes)", RotaLine.Kind.ON_CALL, ("CAYENNE",),
                 modality_types="CT,MR"),
    DemoRotaLine("gf", "Vacations CH Cayenne (CHU Rennes)", RotaLine.Kind.SCHEDULED, ("CAYENNE",)),
)
# fmt: on


@dataclass
class DemoAccount:
    username: str
    role: str
    where: str


@dataclass
class DemoLoadResult:
    accounts: list[DemoAccount]
    counts: dict[str, int]


def _email(username: str) -> str:
    return f"{username}@{DEMO_EMAIL_DOMAIN}"


def _user(person: DemoPerson | DemoRadiologist, *, role: Role, ght: Ght | None, password_hash: str) -> User:
    user, _ = User.objects.update_or_create(
        username=person.username,
        defaults={
            "first_name": person.first_name,
            "last_name": person.last_name,
            "email": _email(person.username),
            "role": role,
            "ght": ght,
            "is_active": True,
            "password": password_hash,
        },
    )
    return user


@transaction.atomic
def demo_load() -> DemoLoadResult:
    """Create or update the demo organisation, people and exams.

    Idempotent: every object is found by its natural key and updated to the
    demo values, so a second run creates nothing. Demo passwords are reset to
    DEMO_PASSWORD. Exams are only created, never reset, so that what a demo
    user did with them survives a reload.

    Returns:
        The demo accounts (for printing) and the number of objects of each kind.
    """
    # One hash for all accounts: hashing is deliberately slow (about 0.3 s).
    password_hash = make_password(DEMO_PASSWORD)
    accounts: list[DemoAccount] = []

    region, _ = Region.objects.update_or_create(name=REGION["name"], defaults={"short_name": REGION["short_name"]})

    ghts: dict[str, Ght] = {}
    for g in GHTS:
        ghts[g.key], _ = Ght.objects.update_or_create(
            name=g.name,
            defaults={"short_name": g.short_name, "region": region if g.in_region else None, "timezone": g.timezone},
        )

    sites: dict[str, Site] = {}
    for index, s in enumerate(SITES, start=1):
        site, _ = Site.objects.update_or_create(
            finess=s.finess,
            defaults={
                "ght": ghts[s.ght],
                "name": s.name,
                "short_name": s.short_name,
                "sector": Site.Sector.PUBLIC,
                "timezone": s.timezone,
                "address": s.address,
                "duty_phone": s.duty_phone,
                "holiday_subdivision": s.holiday_subdivision,
                "active": True,
            },
        )
        sites[s.key] = site
        # One CT and one MRI per site, called CT_<SITE> and MR_<SITE> (≤ 16 characters).
        for prefix, label, modality_type, host_suffix in (
            ("CT", "Scanner", Modality.Type.CT, 1),
            ("MR", "IRM", Modality.Type.MR, 2),
        ):
            Modality.objects.update_or_create(
                ae_title=f"{prefix}_{s.key}",
                defaults={
                    "site": site,
                    "name": f"{label} {s.short_name}",
                    "modality_type": modality_type,
                    "host": f"192.0.2.{index * 10 + host_suffix}",
                    "port": 104,
                    "urgent_by_default": False,
                    "enabled": True,
                },
            )
        PacsNode.objects.update_or_create(
            site=site,
            # No PACS answers at these documentation addresses: delivery stays
            # off in the demo so that nothing retries forever in the worker.
            defaults={"ae_title": f"PACS_{s.key}", "host": f"198.51.100.{index}", "port": 104, "enabled": False},
        )

    for person in ADMINS:
        ght = ghts[person.ght] if person.ght else None
        _user(person, role=person.role, ght=ght, password_hash=password_hash)
        accounts.append(DemoAccount(person.username, str(person.role.label), ght.name if ght else REGION["name"]))

    for person, s in zip(TECHNOLOGISTS, SITES, strict=True):
        user = _user(person, role=person.role, ght=ghts[person.ght], password_hash=password_hash)
        technologist, _ = Technologist.objects.get_or_create(user=user)
        technologist.sites.set([sites[s.key]])
        accounts.append(DemoAccount(person.username, str(person.role.label), sites[s.key].name))

    subspecialties = {sub.code: sub for sub in Subspecialty.objects.all()}
    users: dict[str, User] = {}
    for r in RADIOLOGISTS:
        user = _user(r, role=Role.RADIOLOGIST, ght=ghts[r.ght], password_hash=password_hash)
        users[r.username] = user
        radiologist, _ = Radiologist.objects.update_or_create(rpps=r.rpps, defaults={"user": user})
        radiologist.subspecialties.set([subspecialties[code] for code in r.subspecialties])
        for site_key, contract in r.credentials:
            Credential.objects.update_or_create(
                radiologist=radiologist,
                site=sites[site_key],
                defaults={
                    "contract_type": contract,
                    "valid_from": CREDENTIALS_FROM,
                    "valid_until": None,
                    "active": True,
                },
            )
        where = ", ".join(sites[site_key].short_name for site_key, _ in r.credentials)
        accounts.append(DemoAccount(r.username, f"{Role.RADIOLOGIST.label} ({', '.join(r.subspecialties)})", where))

    now = timezone.now()
    for number, e in enumerate(EXAMS, start=1):
        site = sites[e.site]
        received_at = now - datetime.timedelta(minutes=e.received_minutes_ago)
        # Created, never updated: the status of a demo exam is then only ever
        # changed through worklist.services.exam_transition.
        Exam.objects.get_or_create(
            study_instance_uid=demo_uid(f"study/{e.key}"),
            defaults={
                "site": site,
                "source_modality": Modality.objects.get(ae_title=f"{e.modality}_{e.site}"),
                "accession_number": f"DEMO{number:04d}",
                "patient_name": e.patient_name,
                "patient_id": f"DEMO{number:06d}",
                "issuer_of_patient_id": "DEMO",
                "patient_birth_date": e.birth_date,
                "patient_sex": e.patient_sex,
                "study_datetime": received_at - datetime.timedelta(minutes=5),
                "study_description": e.description,
                "modality": e.modality,
                "body_part_examined": e.body_part,
                "referring_physician_name": "DEMO^Urgentiste",
                "priority": e.priority,
                "status": e.status,
                "assigned_to": users[e.assigned_to] if e.assigned_to else None,
                "number_of_series": 3,
                "number_of_instances": e.instances,
                "received_at": received_at,
                "last_instance_at": received_at + datetime.timedelta(minutes=1),
            },
        )

    months = demo_rota_load(ghts=ghts, sites=sites, region=region)
    for ght in ghts.values():
        report_templates_install_defaults(ght=ght)
        exam_catalogue_install_defaults(ght=ght)

    counts = {
        "regions": 1,
        "GHTs": len(GHTS),
        "sites": len(SITES),
        "modalities": 2 * len(SITES),
        "radiologists": len(RADIOLOGISTS),
        "MERMs": len(TECHNOLOGISTS),
        "administrators": len(ADMINS),
        "exams": len(EXAMS),
        "rota lines": len(ROTA_LINES),
        "published rota months": months,
        "report templates": ReportTemplate.objects.filter(ght__in=ghts.values(), owner__isnull=True).count(),
        "exam catalogue items": ExamCatalogueItem.objects.filter(ght__in=ghts.values()).count(),
    }
    return DemoLoadResult(accounts=accounts, counts=counts)


def _demo_line(spec: DemoRotaLine, *, ghts: dict[str, Ght], sites: dict[str, Site], region: Region) -> RotaLine:
    """The line called ``spec.name`` in its GHT, created with the French default slots the first time."""
    ght = ghts[spec.ght]
    subspecialty = Subspecialty.objects.get(code=spec.subspecialty) if spec.subspecialty else None
    line = RotaLine.objects.filter(ght=ght, name=spec.name).first()
    if line is None:
        line = rota_line_create_defaults(
            ght=ght,
            name=spec.name,
            sites=[sites[key] for key in spec.sites],
            kind=spec.kind,
            subspecialty=subspecialty,
            modality_types=spec.modality_types,
            region=region if spec.regional else None,
        )
    line.sites.set([sites[key] for key in spec.sites])
    return line


@dataclass
class _Busy:
    """What a radiologist already holds, for the demo's greedy filling."""

    spans: list[tuple[datetime.datetime, datetime.datetime]]
    night_ends: list[datetime.datetime]
    hours: float = 0.0


def _fill_round_robin(shifts: list[Shift], eligible: dict[int, list[Radiologist]], busy: dict[int, _Busy]) -> None:
    """Give each shift (in time order) to an eligible radiologist who is free and rested.

    Greedy and good enough for a demo: it prefers the radiologist whose last
    shift on the same line ends when this one starts (an evening runs into
    the night), then the least loaded. It never creates an overlap or breaks
    the rest rule; a shift with no such candidate stays unfilled.
    """
    rest = datetime.timedelta(hours=settings.ROTA_REST_HOURS)
    last_on_line: dict[int, tuple[int, datetime.datetime]] = {}
    for shift in sorted(shifts, key=lambda s: s.start):
        tz = shift.rota_month.ght.timezone
        candidates = []
        for radiologist in eligible[shift.line_id]:
            state = busy.setdefault(radiologist.pk, _Busy([], []))
            if any(start < shift.end and shift.start < end for start, end in state.spans):
                continue
            if any(end <= shift.start < end + rest for end in state.night_ends):
                continue
            continuing = last_on_line.get(shift.line_id) == (radiologist.pk, shift.start)
            candidates.append((not continuing, state.hours, radiologist.pk, radiologist))
        if not candidates:
            continue
        *_, chosen = min(candidates, key=lambda c: c[:3])
        shift.radiologist = chosen
        state = busy[chosen.pk]
        state.spans.append((shift.start, shift.end))
        state.hours += (shift.end - shift.start).total_seconds() / 3600
        if is_night(shift.start, shift.end, tz):
            state.night_ends.append(shift.end)
        last_on_line[shift.line_id] = (chosen.pk, shift.end)


def demo_rota_load(*, ghts: dict[str, Ght], sites: dict[str, Site], region: Region) -> int:
    """Rota lines, and published rotas for this month and the next, so that routing has shifts at any time.

    A month that exists already is left as it is (a demo user may have edited
    it), so a second run changes nothing; a new month is generated from the
    templates, filled round robin by the credentialed radiologists (no
    overlap, rest after nights respected) and published.

    Returns:
        The number of published demo months.
    """
    lines = [_demo_line(spec, ghts=ghts, sites=sites, region=region) for spec in ROTA_LINES]
    demo_ghts = {line.ght for line in lines}
    created: list[RotaMonth] = []
    for ght in demo_ghts:
        this_month = timezone.localdate(timezone=zoneinfo.ZoneInfo(ght.timezone)).replace(day=1)
        for month in (this_month, rota_month_next(ght=ght, today=this_month)):
            if not RotaMonth.objects.filter(ght=ght, month=month).exists():
                created.append(rota_month_generate(ght=ght, month=month, by=None))
    if created:
        shifts = list(Shift.objects.filter(rota_month__in=created).select_related("rota_month__ght", "line"))
        eligible = {
            line.pk: list(radiologist_list_eligible_for_line(line=line, day=CREDENTIALS_FROM)) for line in lines
        }
        people = {r.pk for rs in eligible.values() for r in rs}
        busy: dict[int, _Busy] = {}
        # What the demo radiologists already hold (earlier months, other GHTs) counts too.
        for held in (
            Shift.objects.filter(radiologist__in=people)
            .exclude(rota_month__in=created)
            .select_related("rota_month__ght")
        ):
            state = busy.setdefault(held.radiologist_id, _Busy([], []))
            state.spans.append((held.start, held.end))
            if is_night(held.start, held.end, held.rota_month.ght.timezone):
                state.night_ends.append(held.end)
        _fill_round_robin(shifts, eligible, busy)
        Shift.objects.bulk_update(shifts, ["radiologist"], batch_size=500)
        for rota_month in sorted(created, key=lambda m: m.month):
            try:
                rota_month_publish(rota_month=rota_month, by=None)
            except ApplicationError as error:
                # Left as a draft for the planner to finish; the demo still loads.
                logger.warning("demo rota %s not published: %s %s", rota_month, error.message, error.extra)
    return RotaMonth.objects.filter(
        ght__in=demo_ghts, state=RotaMonth.State.PUBLISHED, month__gte=datetime.date.today().replace(day=1)
    ).count()
