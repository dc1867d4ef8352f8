"""Reads of accounts."""

from __future__ import annotations

from .models import MitraProfile, User


def mitra_profile(mitra: User) -> MitraProfile:
    """The mitra's profile: usually loaded with its token already, made on first use."""
    try:
        return mitra.mitra_profile
    except MitraProfile.DoesNotExist:
        profile, _ = MitraProfile.objects.get_or_create(user=mitra)
        return profile
