from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/mitra/", consumers.MitraConsumer.as_asgi()),
    path("ws/customer/", consumers.CustomerConsumer.as_asgi()),
]
