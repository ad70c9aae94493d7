import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from worklist.routing import CredentialFacts, ExamFacts, Level, OnDuty, Rule, route

UTC = datetime.UTC
AT = datetime.datetime(2026, 1, 15, 2, 0, tzinfo=UTC)  # 03:00 in Brest: deep night
NIGHT = (datetime.datetime(2026, 1, 14, 22, 30, tzinfo=UTC), datetime.datetime(2026, 1, 15, 7, 0, tzinfo=UTC))
BREST, LANDERNEAU = 1, 2
EXAM = ExamFacts(
    id=10,
    site_id=LANDERNEAU,
    site_name="CH Landerneau",
    modality="CT",
    body_part="HEAD",
    description="Scanner cérébral sans injection",
)


def duty(
    rid, line=1, sites=(BREST, LANDERNEAU), level=Level.GHT, subspecialty="", modalities=(), span=NIGHT, skills=()
):
    return OnDuty(
        radiologist_id=rid,
        radiologist_name=f"Dr {rid}",
        line_id=line,
        line_name=f"Ligne {line}",
        site_ids=frozenset(sites),
        start=span[0],
        end=span[1],
        level=level,
        subspecialty=subspecialty,
        modalities=frozenset(modalities),
        radiologist_subspecialties=frozenset(skills),
    )


def cred(rid, site=LANDERNEAU, since=datetime.date(2025, 1, 1), until=None):
    return CredentialFacts(radiologist_id=rid, site_id=site, valid_from=since, valid_until=until)


NEURO = Rule(id=1, name="Neuro → ligne neuro", subspecialty="neuro", body_part_pattern=r"HEAD|BRAIN")


def test_it_picks_the_reader_on_duty_with_a_reason():
    decision = route(EXAM, AT, [duty(7)], [cred(7)], [], {})
    assert decision.reader_id == 7
    assert "Dr 7" in decision.reason and "Ligne 1" in decision.reason and "CH Landerneau" in decision.reason


def test_nobody_on_duty_means_the_pool():
    day = (datetime.datetime(2026, 1, 15, 7, 0, tzinfo=UTC), datetime.datetime(2026, 1, 15, 17, 0, tzinfo=UTC))
    decision = route(EXAM, AT, [duty(7, span=day)], [cred(7)], [], {})
    assert decision.to_pool and "pool" in decision.reason


def test_a_reader_without_a_valid_credential_is_not_chosen():
    expired = cred(7, until=datetime.date(2026, 1, 14))
    assert route(EXAM, AT, [duty(7)], [expired, cred(7, site=BREST)], [], {}).to_pool
    assert route(EXAM, AT, [duty(7), duty(8)], [expired, cred(8)], [], {}).reader_id == 8


def test_a_shift_ends_exactly_at_its_end():
    assert route(EXAM, NIGHT[1], [duty(7)], [cred(7)], [], {}).to_pool
    assert route(EXAM, NIGHT[0], [duty(7)], [cred(7)], [], {}).reader_id == 7


def test_modality_restricted_lines_only_take_their_modalities():
    mr_only = duty(7, modalities=("MR",))
    assert route(EXAM, AT, [mr_only], [cred(7)], [], {}).to_pool


def test_the_lowest_load_wins_then_the_lowest_id():
    shifts, creds = [duty(7), duty(8), duty(9)], [cred(7), cred(8), cred(9)]
    assert route(EXAM, AT, shifts, creds, [], {7: 3, 8: 1, 9: 1}).reader_id == 8
    assert route(EXAM, AT, shifts, creds, [], {7: 0, 8: 1, 9: 1}).reader_id == 7


def test_a_neuro_exam_goes_to_the_neuro_line():
    shifts = [duty(7), duty(8, line=2, subspecialty="neuro")]
    decision = route(EXAM, AT, shifts, [cred(7), cred(8)], [NEURO], {8: 5})
    assert decision.reader_id == 8
    assert decision.rule_id == NEURO.id and "Neuro → ligne neuro" in decision.reason


def test_a_neuro_line_does_not_take_other_exams():
    chest = ExamFacts(id=11, site_id=LANDERNEAU, modality="CT", body_part="CHEST")
    shifts = [duty(8, line=2, subspecialty="neuro")]
    assert route(chest, AT, shifts, [cred(8)], [NEURO], {}).to_pool


def test_without_a_specialist_a_general_reader_reads_unless_the_rule_is_strict():
    decision = route(EXAM, AT, [duty(7)], [cred(7)], [NEURO], {})
    assert decision.reader_id == 7 and "aucun spécialiste" in decision.reason
    strict = Rule(id=2, name="AVC", subspecialty="neuro", body_part_pattern="HEAD", strict=True)
    assert route(EXAM, AT, [duty(7)], [cred(7)], [strict], {}).to_pool


def test_a_reader_with_the_subspecialty_on_a_general_line_counts_as_specialist():
    shifts = [duty(7), duty(8, skills=("neuro",))]
    assert route(EXAM, AT, shifts, [cred(7), cred(8)], [NEURO], {8: 9}).reader_id == 8


def test_paediatric_rule_uses_the_age():
    child = ExamFacts(id=12, site_id=LANDERNEAU, modality="CT", patient_age_years=9)
    adult = ExamFacts(id=13, site_id=LANDERNEAU, modality="CT", patient_age_years=40)
    paed = Rule(id=3, name="Pédiatrie", subspecialty="pediatric", max_age_years=15)
    shifts = [duty(7), duty(8, skills=("pediatric",))]
    assert route(child, AT, shifts, [cred(7), cred(8)], [paed], {8: 4}).reader_id == 8
    assert route(adult, AT, shifts, [cred(7), cred(8)], [paed], {7: 4}).reader_id == 8  # no rule: load


def test_subsidiarity_prefers_the_sites_own_readers_then_the_ght_then_the_region():
    shifts = [duty(7, level=Level.REGION), duty(8, level=Level.GHT), duty(9, level=Level.SITE)]
    creds = [cred(7), cred(8), cred(9)]
    assert route(EXAM, AT, shifts, creds, [], {9: 10}).reader_id == 9
    assert route(EXAM, AT, shifts[:2], creds, [], {8: 10}).reader_id == 8
    assert route(EXAM, AT, shifts, creds, [], {}, min_level=Level.REGION).reader_id == 7


def test_an_excluded_reader_is_skipped():
    assert route(EXAM, AT, [duty(7), duty(8)], [cred(7), cred(8)], [], {}, exclude=frozenset({7})).reader_id == 8


def test_credential_validity_uses_the_sites_local_date():
    cayenne = ExamFacts(id=14, site_id=LANDERNEAU, site_tz="America/Cayenne", modality="CT")
    at = datetime.datetime(2026, 1, 15, 1, 0, tzinfo=UTC)  # still the 14th in Cayenne (UTC−3)
    starts_15th = cred(7, since=datetime.date(2026, 1, 15))
    assert route(cayenne, at, [duty(7)], [starts_15th], [], {}).to_pool
    assert route(EXAM, at, [duty(7)], [starts_15th], [], {}).reader_id == 7


# --- properties -------------------------------------------------------------

radiologists = st.integers(1, 12)
levels = st.sampled_from(list(Level)[:3])


@st.composite
def rotas(draw):
    base = datetime.datetime(2026, 3, 28, 0, 0, tzinfo=UTC)
    shifts = []
    for line in range(draw(st.integers(0, 12))):
        start = base + datetime.timedelta(minutes=30 * draw(st.integers(0, 96)))
        shifts.append(
            duty(
                draw(radiologists),
                line=line,
                sites=draw(st.sets(st.sampled_from([BREST, LANDERNEAU, 3]), min_size=1)),
                level=draw(levels),
                subspecialty=draw(st.sampled_from(["", "", "neuro"])),
                modalities=draw(st.sampled_from([(), ("CT",), ("MR",)])),
                span=(start, start + datetime.timedelta(hours=draw(st.integers(1, 14)))),
            )
        )
    creds = [
        cred(r, site=draw(st.sampled_from([BREST, LANDERNEAU])), since=datetime.date(2026, 3, draw(st.integers(1, 31))))
        for r in draw(st.sets(radiologists))
    ]
    load = {r: draw(st.integers(0, 5)) for r in draw(st.sets(radiologists))}
    return shifts, creds, load


@settings(max_examples=300, deadline=None)
@given(rota=rotas(), minutes=st.integers(0, 48 * 60), rules=st.sampled_from([[], [NEURO]]))
def test_the_chosen_reader_is_on_duty_credentialed_and_least_loaded(rota, minutes, rules):
    shifts, creds, load = rota
    at = datetime.datetime(2026, 3, 28, 0, 0, tzinfo=UTC) + datetime.timedelta(minutes=minutes)
    decision = route(EXAM, at, shifts, creds, rules, load)
    local_day = at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris")).date()
    eligible = [
        s
        for s in shifts
        if s.start <= at < s.end
        and LANDERNEAU in s.site_ids
        and (not s.modalities or "CT" in s.modalities)
        and any(
            c.radiologist_id == s.radiologist_id and c.site_id == LANDERNEAU and c.valid_from <= local_day
            for c in creds
        )
    ]
    if decision.reader_id is None:
        # The pool only when no general (or, with the rule, neuro) reader could read it.
        usable = [s for s in eligible if not s.subspecialty or (rules and s.subspecialty == "neuro")]
        assert not usable
        return
    chosen = [s for s in eligible if s.radiologist_id == decision.reader_id and s.line_id == decision.line_id]
    assert chosen, "the reader must be on duty and credentialed"
    # Compare with the shifts of the same kind as the chosen one: general lines, or the
    # subspecialty lines the rule sent the exam to.
    comparable = [s for s in eligible if (not s.subspecialty) == (not chosen[0].subspecialty)]
    assert decision.level == min(s.level for s in comparable)
    assert all(
        load.get(decision.reader_id, 0) <= load.get(s.radiologist_id, 0)
        for s in comparable
        if s.level == decision.level
    )


@given(rota=rotas(), minutes=st.integers(0, 48 * 60))
def test_routing_is_deterministic(rota, minutes):
    shifts, creds, load = rota
    at = datetime.datetime(2026, 3, 28, 0, 0, tzinfo=UTC) + datetime.timedelta(minutes=minutes)
    assert route(EXAM, at, shifts, creds, [NEURO], load) == route(
        EXAM, at, list(reversed(shifts)), creds, [NEURO], load
    )
