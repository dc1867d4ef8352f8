"""The pairing API under `/api/`: each domain's endpoints."""

from django.urls import path

from .accounts import views as accounts
from .realtime import views as realtime
from .requests import views as requests
from .sessions import views as sessions

urlpatterns = [
    path("auth/token/", accounts.LoginView.as_view(), name="login"),
    path("devices/", accounts.DevicesView.as_view(), name="devices"),
    path("devices/<str:token>/", accounts.DeviceDetailView.as_view(), name="device"),
    path("mitra/me/", sessions.MitraMeView.as_view(), name="mitra-me"),
    path("customer/chat-requests/", requests.CustomerChatRequestsView.as_view(), name="customer-chat-requests"),
    path("customer/chat-requests/<uuid:session_id>/", requests.CustomerChatRequestDetailView.as_view(),
         name="customer-chat-request"),
    path("customer/chat-requests/<uuid:session_id>/cancel/", requests.CustomerCancelView.as_view(),
         name="customer-chat-request-cancel"),
    path("mitra/chat-requests/pending/", requests.MitraPendingView.as_view(), name="mitra-pending"),
    path("mitra/chat-requests/history/", requests.MitraHistoryView.as_view(), name="mitra-history"),
    path("mitra/chat-requests/<uuid:session_id>/status/", requests.MitraRequestStatusView.as_view(),
         name="mitra-request-status"),
    path("mitra/chat-requests/<uuid:session_id>/accept/", requests.MitraAcceptView.as_view(),
         name="mitra-request-accept"),
    path("mitra/chat-requests/<uuid:session_id>/decline/", requests.MitraDeclineView.as_view(),
         name="mitra-request-decline"),
    path("mitra/chat-requests/<uuid:session_id>/seen/", requests.MitraSeenView.as_view(), name="mitra-request-seen"),
    path("events/", realtime.EventsView.as_view(), name="events"),
    path("mitra/chat-requests/sessions/", sessions.MitraSessionsView.as_view(), name="mitra-sessions"),
    path("mitra/chat-requests/sessions/<uuid:session_id>/end/", sessions.MitraEndSessionView.as_view(),
         name="mitra-session-end"),
]  # fmt: skip
