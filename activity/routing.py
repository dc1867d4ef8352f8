"""The control center's socket is a browser's: the staff session cookie authenticates it,
and its Origin must be one of ALLOWED_HOSTS, so another site cannot open it with a
staff member's cookie."""

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path(
        "ws/control-center/live/",
        AllowedHostsOriginValidator(AuthMiddlewareStack(consumers.LiveConsumer.as_asgi())),
    ),
]
