"""On PostgreSQL the audit log is append-only in the database too: UPDATE and DELETE raise.
(The application refuses them already; this also stops a stray manual query or a bug.)"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION spaces_auditevent_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER spaces_auditevent_no_change
  BEFORE UPDATE OR DELETE ON spaces_auditevent
  FOR EACH ROW EXECUTE FUNCTION spaces_auditevent_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS spaces_auditevent_no_change ON spaces_auditevent;
DROP FUNCTION IF EXISTS spaces_auditevent_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("spaces", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
