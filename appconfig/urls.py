from django.urls import path

from . import views

urlpatterns = [
    path("shared/config/", views.SharedConfigView.as_view(), name="shared-config"),
]
