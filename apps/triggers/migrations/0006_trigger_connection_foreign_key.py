import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """App event triggers point at their Connection (apps.connectors) instead of keeping a bare
    UUID. The old column only ever held NULL (no connections existed before), so it is
    replaced rather than converted."""

    dependencies = [
        ("connectors", "0002_connectorversion_import_report_and_counts"),
        ("triggers", "0005_leaner_indexes"),
    ]

    operations = [
        migrations.RemoveField(model_name="trigger", name="connection_id"),
        migrations.AddField(
            model_name="trigger",
            name="connection",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="triggers",
                to="connectors.connection",
            ),
        ),
    ]
