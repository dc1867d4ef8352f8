from django.contrib.auth.views import LogoutView
from django.urls import path

from . import views

app_name = "control-center"

urlpatterns = [
    path("", views.index, name="index"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(next_page="control-center:login"), name="logout"),
    path("mitra-activity/", views.mitra_activity, name="mitra-activity"),
    path("mitra-activity/<id:mitra_id>/", views.mitra_detail, name="mitra-detail"),
    path("live/", views.live, name="live"),
    path("log/", views.log, name="log"),
    path("requests/", views.requests, name="requests"),
    path("requests/<uuid:session_id>/", views.request_detail, name="request"),
    path("requests/<slug:prefix>/", views.request_by_prefix, name="request-prefix"),
    path("search/", views.search, name="search"),
    path("hours/", views.hours, name="hours"),
    path("force-closes/", views.force_closes, name="force-closes"),
    path("force-closes/<id:closure_id>/review/", views.review_closure, name="review-closure"),
    path("force-closes/review/", views.review_closures, name="review-closures"),
]
