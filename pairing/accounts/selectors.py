"""Reads of accounts."""

from __future__ import annotations

from .models import MitraProfile, User


def mitra_profile(mitra: User) -> MitraProfile:
    profile, _ = MitraProfile.objects.get_or_create(user=mitra)
    return profile
