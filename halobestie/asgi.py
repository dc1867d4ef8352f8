"""ASGI entry point: `daphne halobestie.asgi:application` serves HTTP and WebSockets."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halobestie.settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from activity.routing import websocket_urlpatterns as staff_websockets  # noqa: E402
from pairing.realtime.routing import websocket_urlpatterns as app_websockets  # noqa: E402

# The apps' sockets authenticate by token in their consumers (mobile apps send no Origin
# header); the control center's socket authenticates by session (see activity.routing).
application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter([*app_websockets, *staff_websockets]),
    }
)
