"""The iCalendar writer (pure)."""

import datetime

from hypothesis import given
from hypothesis import strategies as st

from sites.ical import Event, calendar, escape, fold

UTC = datetime.UTC


def _unfold(text: str) -> str:
    return text.replace("\r\n ", "")


def test_it_writes_utc_events_with_crlf_and_a_stable_uid():
    event = Event(
        uid="shift-7@teleradio",
        start=datetime.datetime(2026, 3, 28, 23, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=1))),
        end=datetime.datetime(2026, 3, 29, 6, 0, tzinfo=UTC),
        summary="PDS nuit, CT; GHT Ouest",
    )
    text = calendar([event], name="Dr Martin", now=datetime.datetime(2026, 3, 1, tzinfo=UTC))
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert text.endswith("END:VCALENDAR\r\n")
    assert "\n" not in text.replace("\r\n", "")
    assert "UID:shift-7@teleradio\r\n" in text
    assert "DTSTART:20260328T223000Z\r\nDTEND:20260329T060000Z\r\n" in text
    assert "SUMMARY:PDS nuit\\, CT\\; GHT Ouest\r\n" in text


def test_it_escapes_backslashes_and_newlines():
    assert escape("a\\b\nc") == "a\\\\b\\nc"


@given(st.text(min_size=0, max_size=400))
def test_folded_lines_fit_75_octets_and_unfold_to_the_original(text):
    line = "DESCRIPTION:" + escape(text.replace("\r", ""))
    folded = fold(line)
    assert all(len(part.encode()) <= 75 for part in folded.split("\r\n"))
    assert _unfold(folded) == line
