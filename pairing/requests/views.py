"""REST endpoints of chat requests (contract sections 3 to 5). Parse, call, render."""

from __future__ import annotations

from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import ERROR, validated

from ..accounts.auth import IsCustomer, IsMitra
from . import presenters, selectors, services
from .serializers import CreateChatRequestSerializer, SeenSerializer


class CustomerChatRequestsView(APIView):
    permission_classes = [IsCustomer]

    @extend_schema(
        request=CreateChatRequestSerializer, responses={201: presenters.SessionSerializer, 400: ERROR, 409: ERROR}
    )
    def post(self, request: Request) -> Response:
        data = validated(CreateChatRequestSerializer, request)
        session = services.create_chat_request(customer=request.user, duration_minutes=data["duration_minutes"])
        return Response(presenters.session_object(session), status=status.HTTP_201_CREATED)


class CustomerChatRequestDetailView(APIView):
    permission_classes = [IsCustomer]

    @extend_schema(responses={200: presenters.SessionSerializer, 404: ERROR})
    def get(self, request: Request, session_id: UUID) -> Response:
        return Response(presenters.session_object(selectors.session_for_customer(request.user, session_id)))


class CustomerCancelView(APIView):
    permission_classes = [IsCustomer]

    @extend_schema(request=None, responses={200: presenters.SessionSerializer, 404: ERROR, 409: ERROR})
    def post(self, request: Request, session_id: UUID) -> Response:
        session = services.cancel_chat_request(customer=request.user, session_id=session_id)
        return Response(presenters.session_object(session))


class MitraPendingView(APIView):
    permission_classes = [IsMitra]

    @extend_schema(responses={200: presenters.RequestListSerializer})
    def get(self, request: Request) -> Response:
        pending = selectors.pending_requests_for_mitra(request.user)
        return Response({"results": presenters.request_views(pending)})


class MitraRequestStatusView(APIView):
    permission_classes = [IsMitra]

    @extend_schema(responses={200: presenters.RequestViewSerializer, 404: ERROR})
    def get(self, request: Request, session_id: UUID) -> Response:
        return Response(presenters.request_view(selectors.offer_for_mitra(request.user, session_id)))


class MitraAcceptView(APIView):
    permission_classes = [IsMitra]

    @extend_schema(request=None, responses={200: presenters.AcceptResultSerializer, 404: ERROR, 409: ERROR})
    def post(self, request: Request, session_id: UUID) -> Response:
        offer = services.accept_chat_request(mitra=request.user, session_id=session_id)
        return Response(presenters.accept_result(offer))


class MitraDeclineView(APIView):
    permission_classes = [IsMitra]

    @extend_schema(request=None, responses={200: presenters.RequestViewSerializer, 404: ERROR, 409: ERROR})
    def post(self, request: Request, session_id: UUID) -> Response:
        offer = services.decline_chat_request(mitra=request.user, session_id=session_id)
        return Response(presenters.request_view(offer))


class MitraSeenView(APIView):
    """The overlay shows the request: proof of delivery (section 11). Idempotent."""

    permission_classes = [IsMitra]

    @extend_schema(request=SeenSerializer, responses={200: presenters.RequestViewSerializer, 400: ERROR, 404: ERROR})
    def post(self, request: Request, session_id: UUID) -> Response:
        via = validated(SeenSerializer, request)["via"]
        return Response(presenters.request_view(services.mark_seen(mitra=request.user, session_id=session_id, via=via)))


class MitraHistoryView(APIView):
    permission_classes = [IsMitra]

    @extend_schema(responses={200: presenters.HistorySerializer})
    def get(self, request: Request) -> Response:
        return Response(presenters.history(selectors.history_for_mitra(request.user)))
