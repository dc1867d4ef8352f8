"""REST endpoints of accounts: sign-in and FCM devices (contract sections 2 and 6)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import ERROR, validated
from common.errors import NotFound, error_body

from . import presenters, services
from .serializers import DeviceInputSerializer, LoginSerializer


class LoginView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=LoginSerializer, responses={200: presenters.LoginResultSerializer, 400: ERROR, 429: ERROR})
    def post(self, request: Request) -> Response:
        data = validated(LoginSerializer, request)
        result = services.login(username=data["username"], password=data["password"], request=request._request)
        if result is None:
            return Response(error_body("invalid_credentials"), status=status.HTTP_400_BAD_REQUEST)
        user, token = result
        return Response(presenters.login_result(user, token.key))


class DevicesView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=DeviceInputSerializer,
        responses={201: presenters.DeviceSerializer, 200: presenters.DeviceSerializer, 400: ERROR},
    )
    def post(self, request: Request) -> Response:
        data = validated(DeviceInputSerializer, request)
        device, is_new = services.register_device(user=request.user, token=data["token"], platform=data["platform"])
        return Response(presenters.device(device), status=status.HTTP_201_CREATED if is_new else status.HTTP_200_OK)


class DeviceDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None, 404: ERROR})
    def delete(self, request: Request, token: str) -> Response:
        try:
            token = DeviceInputSerializer().fields["token"].run_validation(token)
        except ValidationError:
            raise NotFound() from None  # no such token can have been registered
        services.unregister_device(user=request.user, token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)
