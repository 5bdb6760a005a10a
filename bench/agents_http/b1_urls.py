"""Halo's URLs plus ``/bench/hello``: the DRF hello-world the widget endpoint is compared with (B1)."""

from typing import Any

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from halo.urls import urlpatterns as halo_urlpatterns


class HelloView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    def get(self, request: Request) -> Response:
        return Response({"hello": "world"})


urlpatterns = [path("bench/hello", HelloView.as_view()), *halo_urlpatterns]
