"""Users, their roles, and what only a mitra has; FCM devices."""

from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    MITRA = "mitra", "Mitra"
    STAFF = "staff", "Staff"


class User(AbstractUser):
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CUSTOMER)
    display_name = models.CharField(max_length=150, blank=True)

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def name(self) -> str:
        return self.display_name or self.username


class MitraProfile(models.Model):
    """What only a mitra has. `is_available` is the mitra's own choice, not presence."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, primary_key=True, related_name="mitra_profile")
    is_available = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.user} ({'available' if self.is_available else 'unavailable'})"


class Platform(models.TextChoices):
    ANDROID = "android"
    IOS = "ios"
    WEB = "web"


class Device(models.Model):
    """An FCM registration token. A token belongs to one user at a time."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="devices")
    token = models.CharField(max_length=512, unique=True)
    platform = models.CharField(max_length=16, choices=Platform.choices)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deactivated_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        db_table = "devices"

    def __str__(self) -> str:
        return f"{self.user} {self.platform} …{self.token[-8:]}"
