"""Reads of accounts."""

from __future__ import annotations

from functools import cache

from django.db import connection
from rest_framework.authtoken.models import Token

from common.thirdparty.django_orm import attach

from .models import MitraProfile, User


def mitra_profile(mitra: User) -> MitraProfile:
    """The mitra's profile: usually loaded with its token already, made on first use."""
    try:
        return mitra.mitra_profile
    except MitraProfile.DoesNotExist:
        profile, _ = MitraProfile.objects.get_or_create(user=mitra)
        return profile


@cache
def _token_query() -> tuple[str, list[str], list[str], list[str]]:
    """The token, its user and the user's mitra profile in one statement, built once
    from the models' own columns."""
    quote = connection.ops.quote_name
    parts = [(Token, "t"), (User, "u"), (MitraProfile, "p")]
    names = {model: [field.attname for field in model._meta.concrete_fields] for model, _ in parts}
    columns = ", ".join(
        f"{alias}.{quote(field.column)}" for model, alias in parts for field in model._meta.concrete_fields
    )
    token_user, user_pk = quote(Token._meta.get_field("user").column), quote(User._meta.pk.column)
    sql = (
        f"SELECT {columns} FROM {quote(Token._meta.db_table)} t"
        f" JOIN {quote(User._meta.db_table)} u ON u.{user_pk} = t.{token_user}"
        f" LEFT JOIN {quote(MitraProfile._meta.db_table)} p ON p.{quote(MitraProfile._meta.pk.column)} = u.{user_pk}"
        f" WHERE t.{quote(Token._meta.pk.column)} = %s"
    )
    return sql, names[Token], names[User], names[MitraProfile]


def token_with_user(key: str) -> Token | None:
    """The token with its user and, for a mitra, the profile, as `select_related` would
    load them.

    Every API call and socket handshake runs this. Written by hand because compiling the
    ORM's three-table join cost more than running it (see `make bench ARGS=web`).
    """
    sql, token_names, user_names, profile_names = _token_query()
    with connection.cursor() as cursor:
        cursor.execute(sql, [key])
        row = cursor.fetchone()
    if row is None:
        return None
    cut_user, cut_profile = len(token_names), len(token_names) + len(user_names)
    token = Token.from_db(connection.alias, token_names, row[:cut_user])
    user = User.from_db(connection.alias, user_names, row[cut_user:cut_profile])
    attach(token, Token.user, user)
    profile = None
    if row[cut_profile] is not None:  # the profile's primary key: NULL when there is none
        profile = MitraProfile.from_db(connection.alias, profile_names, row[cut_profile:])
        attach(profile, MitraProfile.user, user)
    attach(user, User.mitra_profile, profile)
    return token
