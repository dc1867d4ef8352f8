"""REST endpoints of the contract's sections 2 to 6. They parse, call a service, render."""

from __future__ import annotations

from uuid import UUID

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from appconfig.models import get_config
from halobestie.errors import error_body

from . import auth, selectors, services
from .exceptions import NotFound
from .presenters import request_view, session_object
from .serializers import (
    AcceptResultSerializer,
    CreateChatRequestSerializer,
    DeviceSerializer,
    EndSessionSerializer,
    HistoryEntrySerializer,
    HistorySerializer,
    LoginResultSerializer,
    LoginSerializer,
    MitraMeSerializer,
    RequestListSerializer,
    RequestViewSerializer,
    SessionListSerializer,
    SessionSerializer,
    SharedConfigSerializer,
)

ERROR = OpenApiResponse(description='`{"error": {"code", "message", ...}}`')


def _client_address(request: Request) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


class LoginView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=LoginSerializer, responses={200: LoginResultSerializer, 400: ERROR, 429: ERROR})
    def post(self, request: Request) -> Response:
        data = _validated(LoginSerializer, request)
        result = auth.login(data["username"], data["password"], _client_address(request))
        if result is None:
            return Response(error_body("invalid_credentials"), status=status.HTTP_400_BAD_REQUEST)
        user, token = result
        return Response({"token": token.key, "role": user.role, "user_id": user.id, "display_name": user.name})


class MitraMeView(APIView):
    permission_classes = [auth.IsMitra]

    @extend_schema(responses={200: MitraMeSerializer})
    def get(self, request: Request) -> Response:
        return Response(_mitra_me(request.user))

    @extend_schema(request=MitraMeSerializer, responses={200: MitraMeSerializer, 400: ERROR})
    def patch(self, request: Request) -> Response:
        data = _validated(MitraMeSerializer, request, partial=True)
        if "is_available" in data:
            services.set_mitra_availability(request.user, data["is_available"])
        return Response(_mitra_me(request.user))


def _mitra_me(mitra) -> dict:
    profile = selectors.mitra_profile(mitra)
    return {
        "user_id": mitra.id,
        "display_name": mitra.name,
        "is_available": profile.is_available,
        "active_session_count": selectors.active_session_count(mitra),
    }


class CustomerChatRequestsView(APIView):
    permission_classes = [auth.IsCustomer]

    @extend_schema(request=CreateChatRequestSerializer, responses={201: SessionSerializer, 400: ERROR, 409: ERROR})
    def post(self, request: Request) -> Response:
        data = _validated(CreateChatRequestSerializer, request)
        session = services.create_chat_request(request.user, data["duration_minutes"])
        return Response(session_object(session), status=status.HTTP_201_CREATED)


class CustomerChatRequestDetailView(APIView):
    permission_classes = [auth.IsCustomer]

    @extend_schema(responses={200: SessionSerializer, 404: ERROR})
    def get(self, request: Request, session_id: UUID) -> Response:
        return Response(session_object(selectors.session_for_customer(request.user, session_id)))


class CustomerCancelView(APIView):
    permission_classes = [auth.IsCustomer]

    @extend_schema(request=None, responses={200: SessionSerializer, 404: ERROR, 409: ERROR})
    def post(self, request: Request, session_id: UUID) -> Response:
        return Response(session_object(services.cancel_chat_request(request.user, session_id)))


class MitraPendingView(APIView):
    permission_classes = [auth.IsMitra]

    @extend_schema(responses={200: RequestListSerializer})
    def get(self, request: Request) -> Response:
        pending = selectors.pending_requests_for_mitra(request.user)
        return Response({"results": [request_view(n) for n in pending]})


class MitraRequestStatusView(APIView):
    permission_classes = [auth.IsMitra]

    @extend_schema(responses={200: RequestViewSerializer, 404: ERROR})
    def get(self, request: Request, session_id: UUID) -> Response:
        return Response(request_view(selectors.notification_for_mitra(request.user, session_id)))


class MitraAcceptView(APIView):
    permission_classes = [auth.IsMitra]

    @extend_schema(request=None, responses={200: AcceptResultSerializer, 404: ERROR, 409: ERROR})
    def post(self, request: Request, session_id: UUID) -> Response:
        notification = services.accept_chat_request(request.user, session_id)
        return Response({"request": request_view(notification), "session": session_object(notification.session)})


class MitraDeclineView(APIView):
    permission_classes = [auth.IsMitra]

    @extend_schema(request=None, responses={200: RequestViewSerializer, 404: ERROR, 409: ERROR})
    def post(self, request: Request, session_id: UUID) -> Response:
        return Response(request_view(services.decline_chat_request(request.user, session_id)))


class MitraHistoryView(APIView):
    permission_classes = [auth.IsMitra]

    @extend_schema(responses={200: HistorySerializer})
    def get(self, request: Request) -> Response:
        rows = selectors.history_for_mitra(request.user)
        return Response({"results": HistoryEntrySerializer(rows, many=True).data})


class MitraSessionsView(APIView):
    """Sesi Aktif: the sessions `active_session_count` counts, oldest first."""

    permission_classes = [auth.IsMitra]

    @extend_schema(responses={200: SessionListSerializer})
    def get(self, request: Request) -> Response:
        sessions = selectors.active_sessions_for_mitra(request.user)
        return Response({"results": [session_object(s) for s in sessions]})


class MitraEndSessionView(APIView):
    permission_classes = [auth.IsMitra]

    @extend_schema(
        request=EndSessionSerializer, responses={200: SessionSerializer, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR}
    )
    def post(self, request: Request, session_id: UUID) -> Response:
        services.require_early_end_enabled()  # a disabled feature answers 403 whatever the body
        data = _validated(EndSessionSerializer, request)
        session = services.end_session_early(request.user, session_id, data["reason_code"], data["reason_note"])
        return Response(session_object(session))


class SharedConfigView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: SharedConfigSerializer})
    def get(self, request: Request) -> Response:
        config = get_config()
        return Response(
            {
                "early_end_mitra_enabled": config.early_end_mitra_enabled,
                "early_end_customer_enabled": config.early_end_customer_enabled,
                "request_timeout_seconds": config.request_timeout_seconds,
                "closing_grace_seconds": config.closing_grace_seconds,
                "early_end_reasons": SharedConfigSerializer.reasons(),
            }
        )


class DevicesView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=DeviceSerializer, responses={201: DeviceSerializer, 200: DeviceSerializer, 400: ERROR})
    def post(self, request: Request) -> Response:
        data = _validated(DeviceSerializer, request)
        device, is_new = services.register_device(request.user, data["token"], data["platform"])
        body = {"token": device.token, "platform": device.platform}
        return Response(body, status=status.HTTP_201_CREATED if is_new else status.HTTP_200_OK)


class DeviceDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None, 404: ERROR})
    def delete(self, request: Request, token: str) -> Response:
        try:
            token = DeviceSerializer().fields["token"].run_validation(token)
        except ValidationError:
            raise NotFound() from None  # no such token can have been registered
        services.unregister_device(request.user, token)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _validated(serializer_class, request: Request, partial: bool = False) -> dict:
    serializer = serializer_class(data=request.data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
