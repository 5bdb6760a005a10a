"""Server API of webhook endpoints: ``GET/POST webhooks``, ``DELETE webhooks/{id}``.

The endpoint's signing ``secret`` is in the POST's answer only; it is never shown again. An unknown event
name, a URL that is not ``https://`` (outside ``DEBUG``, unless the operator allowed its host) or that points
at a private address the operator has not allowed is a 400 with a field error. Another workspace's endpoint
is a 404, like one that does not exist.
"""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from halo.api.authentication import request_workspace
from halo.api.error_codes import ErrorCode
from halo.api.errors import ApiError
from halo.api.pagination import KeysetPagination
from halo.api.schema import error_responses
from halo.api.serializers import StrictSerializer, TextField
from halo.models import WebhookEndpoint
from halo.selectors import webhook_endpoint_get, webhook_endpoint_list
from halo.webhooks.events import WebhookEvent
from halo.webhooks.services import URL_MAX_LENGTH, webhook_endpoint_create, webhook_endpoint_delete

EVENT_NAMES = ", ".join(f"`{event.value}`" for event in WebhookEvent)


class WebhookEndpointInputSerializer(StrictSerializer):
    url = TextField(max_length=URL_MAX_LENGTH, help_text="Where Halo POSTs the events: an https:// URL.")
    events = serializers.ListField(
        child=TextField(max_length=64),
        allow_empty=False,
        max_length=len(WebhookEvent),
        help_text=f"The events to receive, from: {EVENT_NAMES}.",
    )


class WebhookEndpointSerializer(serializers.ModelSerializer[WebhookEndpoint]):
    paused = serializers.BooleanField(
        read_only=True, help_text="Paused after failing for a day; no events are recorded until resumed."
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "paused", "created_at"]
        read_only_fields = fields


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="Signs every delivery (`Halo-Signature`). Shown in this answer only."
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookPagination(KeysetPagination):
    ordering = "id"


class WebhookEndpointListView(ListAPIView[WebhookEndpoint]):
    serializer_class = WebhookEndpointSerializer
    pagination_class = WebhookPagination

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        return webhook_endpoint_list(workspace=request_workspace(self.request))

    @extend_schema(
        operation_id="webhook_list",
        summary="List webhook endpoints",
        responses={200: WebhookEndpointSerializer(many=True), **error_responses(400, 401, 429)},
        tags=["webhooks"],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="webhook_create",
        summary="Add a webhook endpoint",
        description=(
            "Halo POSTs each subscribed event as `{id, type, created_at, workspace, data}` with the header "
            '`Halo-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" under the secret>`; any '
            "2xx acknowledges it. Deliveries are retried with backoff (and after a 429's `Retry-After`), at "
            "least once, under a stable event `id`. The `secret` is in this answer only."
        ),
        request=WebhookEndpointInputSerializer,
        responses={201: WebhookEndpointCreatedSerializer, **error_responses(400, 401, 429)},
        examples=[
            OpenApiExample(
                "A bot",
                request_only=True,
                value={"url": "https://bot.example.com/halo", "events": ["message.created"]},
            )
        ],
        tags=["webhooks"],
    )
    def post(self, request: Request) -> Response:
        data = WebhookEndpointInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = webhook_endpoint_create(workspace=request_workspace(request), **data.validated_data)
        return Response(WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookEndpointView(APIView):
    @extend_schema(
        operation_id="webhook_delete",
        summary="Delete a webhook endpoint",
        description="Its delivery log goes with it; events still queued for it are dropped.",
        responses={204: None, **error_responses(401, 404, 429)},
        tags=["webhooks"],
    )
    def delete(self, request: Request, endpoint_id: int) -> Response:
        endpoint = webhook_endpoint_get(workspace=request_workspace(request), endpoint_id=endpoint_id)
        if endpoint is None:
            raise ApiError(ErrorCode.NOT_FOUND, "No webhook endpoint with this id in this workspace.", status=404)
        webhook_endpoint_delete(endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)
