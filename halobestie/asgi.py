"""ASGI entry point: `daphne halobestie.asgi:application` serves HTTP and WebSockets."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halobestie.settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from pairing.realtime.routing import websocket_urlpatterns  # noqa: E402

# Token auth is done by the consumers (query string or Authorization header); mobile
# apps send no Origin header, so there is no origin check here.
application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
