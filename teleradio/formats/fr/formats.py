"""French date formats, pinned: the templates rely on them (05/01/2026 09:00)."""

SHORT_DATE_FORMAT = "d/m/Y"
SHORT_DATETIME_FORMAT = "d/m/Y H:i"
