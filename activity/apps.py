from django.apps import AppConfig


class ActivityConfig(AppConfig):
    name = "activity"
    verbose_name = "Mitra activity"

    def ready(self) -> None:
        # Late proofs of delivery move the rolled-up days they belong to (receivers.py).
        from pairing.requests.signals import offers_proven

        from .receivers import correct_rollups

        offers_proven.connect(correct_rollups, dispatch_uid="activity.correct_rollups")
