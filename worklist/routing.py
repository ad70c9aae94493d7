"""Routing: who reads this exam now, and why (pure: no database, no Django).

``route(exam, at, shifts, credentials, rules, load)`` takes plain data loaded
by the caller and returns a Decision with the chosen reader, the rule that
matched and a reason in French that is shown on the exam's timeline.

Order of the decision:
1. on duty now for the exam's site and modality (a shift covering ``at``);
2. holding a credential for the site valid on the site's local date;
3. the first GHT rule that matches the exam (body part / description regex,
   requested subspecialty, paediatric age) restricts the candidates to readers
   of that subspecialty; lines dedicated to a subspecialty only take the exams
   of their subspecialty;
4. subsidiarity: the site's own lines, then the GHT's, then the region's —
   the first level with a candidate wins (``min_level`` skips levels, for
   escalation after a delay);
5. the lowest current load (open exams weighted by modality), then the lowest
   radiologist id: a stable tie-break, so the same inputs give the same reader.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from functools import lru_cache


class Level(IntEnum):
    """Subsidiarity levels, in the order the French teleradiology charter asks."""

    SITE = 0  # the site's own readers
    GHT = 1  # the GHT's readers
    REGION = 2  # the regional platform's readers
    EXTERNAL = 3  # an external provider (no individual reader: a destination node)


LEVEL_LABELS = {
    Level.SITE: "lecteurs de l'établissement",
    Level.GHT: "lecteurs du GHT",
    Level.REGION: "plateforme régionale",
    Level.EXTERNAL: "prestataire externe",
}


@dataclass(frozen=True)
class ExamFacts:
    id: int
    site_id: int
    site_name: str = ""
    site_tz: str = "Europe/Paris"
    modality: str = ""
    body_part: str = ""
    description: str = ""
    patient_age_years: int | None = None
    requested_subspecialty: str = ""  # a Subspecialty code, from the request


@dataclass(frozen=True)
class OnDuty:
    """A published shift: one radiologist covering one rota line."""

    radiologist_id: int
    radiologist_name: str
    line_id: int
    line_name: str
    site_ids: frozenset[int]
    start: datetime.datetime
    end: datetime.datetime
    level: Level = Level.GHT  # of the line, relative to the exam's site (computed by the caller)
    subspecialty: str = ""  # the line's subspecialty code; "" = a general line
    modalities: frozenset[str] = frozenset()  # empty = every modality
    radiologist_subspecialties: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CredentialFacts:
    radiologist_id: int
    site_id: int
    valid_from: datetime.date
    valid_until: datetime.date | None = None


@dataclass(frozen=True)
class Rule:
    """A GHT routing rule: exams matching it need a reader of ``subspecialty``."""

    id: int
    name: str
    subspecialty: str
    order: int = 0
    modalities: frozenset[str] = frozenset()
    body_part_pattern: str = ""
    description_pattern: str = ""
    requested_subspecialty: str = ""
    max_age_years: int | None = None  # e.g. 15 for paediatrics
    strict: bool = False  # no such reader on duty: pool (True) or general readers (False)
    deadline_minutes: int | None = None  # the rule's own délai garanti, if any

    def matches(self, exam: ExamFacts) -> bool:
        if self.modalities and exam.modality not in self.modalities:
            return False
        if self.max_age_years is not None and (
            exam.patient_age_years is None or exam.patient_age_years >= self.max_age_years
        ):
            return False
        if self.requested_subspecialty and exam.requested_subspecialty != self.requested_subspecialty:
            return False
        if self.body_part_pattern and not _regex(self.body_part_pattern).search(exam.body_part):
            return False
        if self.description_pattern and not _regex(self.description_pattern).search(exam.description):
            return False
        return bool(
            self.modalities
            or self.max_age_years is not None
            or self.requested_subspecialty
            or self.body_part_pattern
            or self.description_pattern
        )


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


@dataclass(frozen=True)
class Decision:
    reader_id: int | None
    reason: str
    rule_id: int | None = None
    level: Level | None = None
    line_id: int | None = None
    candidate_ids: tuple[int, ...] = field(default_factory=tuple)

    @property
    def to_pool(self) -> bool:
        return self.reader_id is None


def _credentialed(credentials: Iterable[CredentialFacts], site_id: int, day: datetime.date) -> set[int]:
    return {
        c.radiologist_id
        for c in credentials
        if c.site_id == site_id and c.valid_from <= day and (c.valid_until is None or day <= c.valid_until)
    }


def route(
    exam: ExamFacts,
    at: datetime.datetime,
    shifts: Iterable[OnDuty],
    credentials: Iterable[CredentialFacts],
    rules: Iterable[Rule],
    load: Mapping[int, float],
    *,
    min_level: Level = Level.SITE,
    exclude: frozenset[int] = frozenset(),
) -> Decision:
    """Choose the reader of ``exam`` at instant ``at`` (aware), and say why.

    Args:
        exam: what routing needs to know of the exam.
        at: the instant of the decision (aware datetime).
        shifts: published shifts (any; those not covering ``at`` are ignored).
        credentials: credentials of the candidate radiologists.
        rules: the GHT's routing rules; the lowest ``order`` that matches wins.
        load: current weighted load per radiologist id (missing = 0).
        min_level: skip subsidiarity levels below this one (escalation).
        exclude: radiologists not to choose (e.g. the one who did not claim in time).

    Returns:
        A Decision; ``reader_id`` None means the GHT's pool.
    """
    local_day = at.astimezone(zoneinfo.ZoneInfo(exam.site_tz)).date()
    on_duty = [
        s
        for s in shifts
        if s.start <= at < s.end
        and exam.site_id in s.site_ids
        and (not s.modalities or exam.modality in s.modalities)
        and s.radiologist_id not in exclude
        and s.level >= min_level
    ]
    if not on_duty:
        return Decision(
            None, "Aucun radiologue de garde pour cet établissement à cette heure : examen dans le pool du GHT."
        )
    allowed = _credentialed(credentials, exam.site_id, local_day)
    on_duty = [s for s in on_duty if s.radiologist_id in allowed]
    if not on_duty:
        return Decision(
            None, "Aucun radiologue de garde n'est habilité pour cet établissement : examen dans le pool du GHT."
        )

    rule = next((r for r in sorted(rules, key=lambda r: (r.order, r.id)) if r.matches(exam)), None)
    note = ""
    if rule is not None:
        specialists = [
            s
            for s in on_duty
            if s.subspecialty == rule.subspecialty or rule.subspecialty in s.radiologist_subspecialties
        ]
        if specialists:
            on_duty = specialists
        elif rule.strict:
            return Decision(
                None,
                f"Règle « {rule.name} » : aucun radiologue de cette surspécialité de garde ; "
                "examen dans le pool du GHT.",
                rule_id=rule.id,
            )
        else:
            on_duty = [s for s in on_duty if not s.subspecialty]
            note = f" (règle « {rule.name} » : aucun spécialiste de garde, lecteur généraliste)"
    else:
        # Lines dedicated to a subspecialty take only the exams of their subspecialty.
        on_duty = [s for s in on_duty if not s.subspecialty]
    if not on_duty:
        return Decision(
            None,
            "Aucune ligne de garde ne prend ce type d'examen : examen dans le pool du GHT.",
            rule_id=rule and rule.id,
        )

    level = min(s.level for s in on_duty)
    at_level = [s for s in on_duty if s.level == level]
    best = min(at_level, key=lambda s: (load.get(s.radiologist_id, 0.0), s.radiologist_id, s.line_id))
    candidates = tuple(sorted({s.radiologist_id for s in at_level}))
    current = load.get(best.radiologist_id, 0.0)
    if len(candidates) == 1:
        choice = "seul lecteur possible"
    else:
        choice = f"le moins chargé des {len(candidates)} lecteurs possibles (charge {current:g})"
    reason = (
        f"{best.radiologist_name} : de garde sur « {best.line_name} » ({LEVEL_LABELS[level]}), "
        f"habilité pour {exam.site_name or 'cet établissement'}, {choice}"
    )
    if rule is not None and not note:
        reason += f" ; règle « {rule.name} »"
    return Decision(
        best.radiologist_id,
        reason + note + ".",
        rule_id=rule.id if rule else None,
        level=level,
        line_id=best.line_id,
        candidate_ids=candidates,
    )
