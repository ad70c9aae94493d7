"""English date formats: ISO, so that nobody reads 05/01 as the 1st of May (or of January)."""

SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
