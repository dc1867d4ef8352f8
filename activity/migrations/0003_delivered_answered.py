from django.db import migrations, models


def forget_rollups(apps, schema_editor):
    """Rolled-up days lack the new figure: drop them, and the beat task rolls them up again."""
    apps.get_model("activity", "MitraDailyActivity").objects.all().delete()
    apps.get_model("activity", "RolledUpDay").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("activity", "0002_delivery_figures")]

    operations = [
        migrations.AddField(
            model_name="mitradailyactivity",
            name="delivered_answered",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(forget_rollups, migrations.RunPython.noop),
    ]
