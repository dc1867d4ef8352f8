from django.urls import path

from . import views

urlpatterns = [
    path("auth/token/", views.LoginView.as_view(), name="login"),
    path("mitra/me/", views.MitraMeView.as_view(), name="mitra-me"),
    path("customer/chat-requests/", views.CustomerChatRequestsView.as_view(), name="customer-chat-requests"),
    path(
        "customer/chat-requests/<uuid:session_id>/",
        views.CustomerChatRequestDetailView.as_view(),
        name="customer-chat-request",
    ),
    path(
        "customer/chat-requests/<uuid:session_id>/cancel/",
        views.CustomerCancelView.as_view(),
        name="customer-chat-request-cancel",
    ),
    path("mitra/chat-requests/pending/", views.MitraPendingView.as_view(), name="mitra-pending"),
    path("mitra/chat-requests/history/", views.MitraHistoryView.as_view(), name="mitra-history"),
    path("mitra/chat-requests/sessions/", views.MitraSessionsView.as_view(), name="mitra-sessions"),
    path(
        "mitra/chat-requests/sessions/<uuid:session_id>/end/",
        views.MitraEndSessionView.as_view(),
        name="mitra-session-end",
    ),
    path(
        "mitra/chat-requests/<uuid:session_id>/status/",
        views.MitraRequestStatusView.as_view(),
        name="mitra-request-status",
    ),
    path(
        "mitra/chat-requests/<uuid:session_id>/accept/",
        views.MitraAcceptView.as_view(),
        name="mitra-request-accept",
    ),
    path(
        "mitra/chat-requests/<uuid:session_id>/decline/",
        views.MitraDeclineView.as_view(),
        name="mitra-request-decline",
    ),
    path("shared/config/", views.SharedConfigView.as_view(), name="shared-config"),
    path("devices/", views.DevicesView.as_view(), name="devices"),
    path("devices/<str:token>/", views.DeviceDetailView.as_view(), name="device"),
]
