"""REST endpoints of a mitra's sessions (contract sections 2 and 5): its own state,
Sesi Aktif, and ending a session early."""

from __future__ import annotations

from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import ERROR, validated

from ..accounts import presenters as account_presenters
from ..accounts import selectors as account_selectors
from ..accounts import services as account_services
from ..accounts.auth import IsMitra
from ..accounts.models import MitraProfile
from ..accounts.serializers import AvailabilitySerializer
from ..requests import presenters as request_presenters
from . import presenters, selectors, services
from .serializers import EndSessionSerializer


class MitraMeView(APIView):
    """The mitra's availability (its own choice) and how many sessions it is in."""

    permission_classes = [IsMitra]

    @extend_schema(responses={200: account_presenters.MitraMeSerializer})
    def get(self, request: Request) -> Response:
        return Response(self._me(request))

    @extend_schema(request=AvailabilitySerializer, responses={200: account_presenters.MitraMeSerializer, 400: ERROR})
    def patch(self, request: Request) -> Response:
        data = validated(AvailabilitySerializer, request, partial=True)
        profile = None
        if "is_available" in data:
            profile = account_services.set_mitra_availability(mitra=request.user, is_available=data["is_available"])
        return Response(self._me(request, profile))

    @staticmethod
    def _me(request: Request, profile: MitraProfile | None = None) -> dict:
        mitra = request.user
        profile = profile or account_selectors.mitra_profile(mitra)
        return account_presenters.mitra_me(mitra, profile, selectors.active_session_count(mitra))


class MitraSessionsView(APIView):
    """Sesi Aktif: the sessions `active_session_count` counts, oldest first."""

    permission_classes = [IsMitra]

    @extend_schema(responses={200: presenters.SessionListSerializer})
    def get(self, request: Request) -> Response:
        return Response({"results": presenters.session_objects(selectors.active_sessions_for_mitra(request.user))})


class MitraEndSessionView(APIView):
    permission_classes = [IsMitra]

    @extend_schema(
        request=EndSessionSerializer,
        responses={200: request_presenters.SessionSerializer, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR},
    )
    def post(self, request: Request, session_id: UUID) -> Response:
        services.require_early_end_enabled()  # a disabled feature answers 403 whatever the body
        data = validated(EndSessionSerializer, request)
        session = services.end_session_early(
            mitra=request.user, session_id=session_id, reason_code=data["reason_code"], reason_note=data["reason_note"]
        )
        return Response(request_presenters.session_object(session))
