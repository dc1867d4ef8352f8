"""ASGI entry point: `daphne halobestie.asgi:application` serves HTTP and WebSockets."""

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halobestie.settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from activity.routing import websocket_urlpatterns as staff_websockets  # noqa: E402
from common import shutdown  # noqa: E402
from pairing.realtime.routing import websocket_urlpatterns as app_websockets  # noqa: E402

# The apps' sockets authenticate by token in their consumers (mobile apps send no Origin
# header); the control center's socket authenticates by session (see activity.routing).
# HTTP requests under way are counted, so that a graceful stop can let them finish.
shutdown.in_flight = shutdown.InFlightHTTP(django_asgi_app)
application = ProtocolTypeRouter(
    {
        "http": shutdown.in_flight,
        "websocket": URLRouter([*app_websockets, *staff_websockets]),
    }
)

# A web process holds thousands of sockets' objects, and each full collection walks all
# of them: pauses of a tenth of a second and more, in the middle of fan-outs. What is
# loaded by now lives as long as the process: freeze it out of every collection, and
# collect the young generation far less often (the standard library's own gc API).
gc.freeze()
gc.set_threshold(50_000, 20, 10)
