"""On PostgreSQL a published version cannot be changed in the database either: UPDATE raises.
(Deleting stays possible: deleting a workflow deletes its versions.)"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION workflows_version_immutable() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'workflow versions are immutable';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER workflows_version_no_update
  BEFORE UPDATE ON workflows_workflowversion
  FOR EACH ROW EXECUTE FUNCTION workflows_version_immutable();
"""

DROP = """
DROP TRIGGER IF EXISTS workflows_version_no_update ON workflows_workflowversion;
DROP FUNCTION IF EXISTS workflows_version_immutable();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("workflows", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
