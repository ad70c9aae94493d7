"""A minimal iCalendar (RFC 5545) writer for shift feeds (pure: no Django import).

Only what calendar clients need to show shifts: one VEVENT per shift with UTC
times (no VTIMEZONE needed), a UID stable per shift so that updates replace
the event instead of duplicating it, escaped text and folded long lines.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

CRLF = "\r\n"
MAX_OCTETS = 75


@dataclass(frozen=True)
class Event:
    uid: str
    start: datetime.datetime  # aware
    end: datetime.datetime  # aware
    summary: str
    description: str = ""


def escape(text: str) -> str:
    """TEXT value escaping (RFC 5545 §3.3.11): backslash, semicolon, comma, newline."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for raw, escaped in (("\\", "\\\\"), (";", "\\;"), (",", "\\,"), ("\n", "\\n")):
        text = text.replace(raw, escaped)
    return text


def fold(line: str) -> str:
    """Fold a content line at 75 octets, never inside a UTF-8 character (RFC 5545 §3.1)."""
    out: list[str] = []
    current = ""
    limit = MAX_OCTETS
    for char in line:
        if len((current + char).encode()) > limit:
            out.append(current)
            current = ""
            limit = MAX_OCTETS - 1  # continuation lines start with a space
        current += char
    out.append(current)
    return (CRLF + " ").join(out)


def utc(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar(events: Iterable[Event], *, name: str, now: datetime.datetime) -> str:
    """The VCALENDAR text (CRLF line endings) of ``events``."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Teleradio//Planning des gardes//FR",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape(name)}",
    ]
    for event in events:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{event.uid}",
            f"DTSTAMP:{utc(now)}",
            f"DTSTART:{utc(event.start)}",
            f"DTEND:{utc(event.end)}",
            f"SUMMARY:{escape(event.summary)}",
        ]
        if event.description:
            lines.append(f"DESCRIPTION:{escape(event.description)}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + CRLF for line in lines)
