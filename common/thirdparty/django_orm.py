"""The two places the project builds what Django's ORM would, on the hot path.

- `insert_or_ignore`: an `INSERT ... ON CONFLICT DO NOTHING` (SQLite: `INSERT OR IGNORE`)
  of one model instance, telling whether the row went in. `bulk_create(...,
  ignore_conflicts=True)` runs the same SQL but does not say whether the row was
  inserted, which the request create needs. Internals used: `InsertQuery`,
  `insert_values`, `get_compiler(...).as_sql()`, and `_state`.
- `attach`: a related object set on an instance loaded by hand (`Model.from_db`, which
  is public), as `select_related` would. Internals used: the descriptors'
  `field.set_cached_value` and `related.set_cached_value`.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Model
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery

from . import require_version

KNOWN_VERSIONS = ("5.2.19",)
require_version("django", KNOWN_VERSIONS, "common.thirdparty.django_orm")


def insert_or_ignore(instance: Model) -> bool:
    """Insert the instance; False if a unique constraint refused it. SQLite's OR IGNORE
    also skips a NOT NULL or CHECK failure: callers that may meet one insert plainly after."""
    model = type(instance)
    meta = model._meta
    # A database-made primary key is left to the database (and stays unknown here).
    fields = [f for f in meta.concrete_fields if not (f is meta.auto_field and instance.pk is None)]
    query = InsertQuery(model, on_conflict=OnConflict.IGNORE)
    query.insert_values(fields, [instance])
    with connection.cursor() as cursor:
        for sql, params in query.get_compiler(connection=connection).as_sql():
            cursor.execute(sql, params)
        if cursor.rowcount != 1:
            return False
    instance._state.adding, instance._state.db = False, connection.alias
    return True


def attach(instance: Model, descriptor: object, related: Model | None) -> None:
    """Cache `related` behind `descriptor` (a forward `Model.field` or reverse one-to-one
    `Model.related_name` attribute) on `instance`, so reading it runs no query."""
    if hasattr(descriptor, "field"):
        descriptor.field.set_cached_value(instance, related)
    else:
        descriptor.related.set_cached_value(instance, related)
