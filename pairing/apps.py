from django.apps import AppConfig


class PairingConfig(AppConfig):
    name = "pairing"
    verbose_name = "Pairing"

    def ready(self) -> None:
        # Delivery subscribes to the events state changes announce: sockets first, then pushes.
        from common.shutdown import on_shutdown

        from .events.bus import subscribe, watch_for_staff
        from .push.subscriber import on_event as push_on_event
        from .realtime import acks, hub, presence
        from .realtime.publisher import publish, tell_staff

        subscribe(publish)
        subscribe(push_on_event)
        watch_for_staff(tell_staff)
        # A web process that stops closes its sockets with 1012 and leaves presence at once.
        on_shutdown(hub.shut_down)
        on_shutdown(presence.leave_all)
        on_shutdown(acks.drain)

        # Metrics subscribe too (each domain's metrics.py); the request id follows tasks.
        from common.logs import connect_celery

        from .metrics import connect as connect_metrics

        connect_metrics()
        connect_celery()
