from django.contrib.auth.views import LogoutView
from django.urls import path

from . import views

app_name = "control-center"

urlpatterns = [
    path("", views.index, name="index"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(next_page="control-center:login"), name="logout"),
    path("mitra-activity/", views.mitra_activity, name="mitra-activity"),
    path("mitra-activity/<int:mitra_id>/", views.mitra_detail, name="mitra-detail"),
    path("force-closes/", views.force_closes, name="force-closes"),
]
