"""The request row is `ChatRequest` and a mitra's row in the activity log is an `Offer`.

Both tables keep their names (`chat_sessions`, `chat_request_notifications`), so this
changes no schema: only the models' names and their reverse accessors.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("pairing", "0009_bulk_rows_without_fk_checks"),
    ]

    operations = [
        migrations.RenameModel(old_name="ChatSession", new_name="ChatRequest"),
        migrations.RenameModel(old_name="ChatRequestNotification", new_name="Offer"),
        migrations.AlterField(
            model_name="offer",
            name="session",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="offers",
                to="pairing.chatrequest",
            ),
        ),
        migrations.AlterField(
            model_name="offer",
            name="mitra",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="offers",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
    ]
