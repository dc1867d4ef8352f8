"""The control center's JSON API, under `/api/control-center/`."""

from django.urls import path

from . import views

urlpatterns = [
    path("mitra-activity/", views.MitraActivityAPIView.as_view(), name="api-mitra-activity"),
]
