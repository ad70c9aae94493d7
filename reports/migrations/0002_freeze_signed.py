"""The database refuses to change or delete a signed report or addendum.

Application code never does it (reports.services), but the rule must also
hold against the admin, a shell or a future code path: a signed report is a
medico-legal document. Signing itself (signed_at NULL → set) is allowed.
"""

from django.db import migrations

TABLES = ("reports_report", "reports_addendum")

POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION reports_refuse_signed_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'signed report is frozen: % %', TG_TABLE_NAME, OLD.id
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""


def _postgres(table: str, event: str) -> str:
    return (
        f"CREATE TRIGGER {table}_frozen_{event.lower()} BEFORE {event} ON {table} "
        f"FOR EACH ROW WHEN (OLD.signed_at IS NOT NULL) EXECUTE FUNCTION reports_refuse_signed_change();"
    )


def _sqlite(table: str, event: str) -> str:
    return (
        f"CREATE TRIGGER {table}_frozen_{event.lower()} BEFORE {event} ON {table} "
        f"FOR EACH ROW WHEN OLD.signed_at IS NOT NULL "
        f"BEGIN SELECT RAISE(ABORT, 'signed report is frozen'); END;"
    )


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_FUNCTION, params=None)
        build = _postgres
    elif vendor == "sqlite":
        build = _sqlite
    else:  # pragma: no cover - only the two supported databases
        raise RuntimeError(f"no freeze trigger for {vendor}")
    for table in TABLES:
        for event in ("UPDATE", "DELETE"):
            schema_editor.execute(build(table, event), params=None)


def drop(apps, schema_editor):
    for table in TABLES:
        for event in ("update", "delete"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_frozen_{event}" + (
                f" ON {table}" if schema_editor.connection.vendor == "postgresql" else ""
            ))
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS reports_refuse_signed_change()")


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_reports")]

    operations = [migrations.RunPython(create, drop)]
