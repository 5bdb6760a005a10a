"""Server API views for contacts: parse the input, call one service, render the result.

``PUT contacts/{user_id}`` upserts a contact (201 when it was created, 200 when it existed);
``GET contacts/{user_id}`` reads it back; ``POST contacts/{user_id}/events`` records activity. An event
for a ``user_id`` the workspace never sent is a 404 (``contact_not_found``): send the contact first, so a
typo in an id never creates a ghost contact.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from halo.api.authentication import request_workspace
from halo.api.error_codes import ErrorCode
from halo.api.errors import ApiError
from halo.api.schema import error_responses
from halo.api.serializers import (
    BusinessHoursInputSerializer,
    BusinessHoursSerializer,
    ContactInputSerializer,
    ContactSerializer,
    EventBatchInputSerializer,
    EventInputSerializer,
    EventsRecordedSerializer,
)
from halo.selectors import business_hours_get, contact_get
from halo.services import business_hours_set, contact_upsert, page_views_record

USER_ID_PARAMETER = OpenApiParameter(
    "user_id",
    str,
    OpenApiParameter.PATH,
    pattern=r"^(?=.*\S)[^/\x00-\x1f\x7f]{1,255}$",
    description="Your own id for the user: 1 to 255 characters, no `/` or control characters, not only spaces.",
)


def _user_id(value: str) -> str:
    value = value.strip()
    if not value or len(value) > 255:
        raise ValidationError({"user_id": ["Must be 1 to 255 characters."]})
    if any(ord(character) < 32 or ord(character) == 127 for character in value):
        raise ValidationError({"user_id": ["Must not contain control characters."]})
    return value


class ContactView(APIView):
    @extend_schema(
        operation_id="contact_get",
        summary="Read a contact",
        parameters=[USER_ID_PARAMETER],
        responses={200: ContactSerializer, **error_responses(400, 401, 404, 429)},
        tags=["contacts"],
    )
    def get(self, request: Request, user_id: str) -> Response:
        contact = contact_get(workspace=request_workspace(request), user_id=_user_id(user_id))
        if contact is None:
            raise ApiError(ErrorCode.NOT_FOUND, "No contact with this user_id.", status=404)
        return Response(ContactSerializer(contact).data)

    @extend_schema(
        operation_id="contact_upsert",
        summary="Create or update a contact",
        description=(
            "Idempotent upsert of a user's traits, custom fields, company and Stripe data. Fields left out are "
            'unchanged; `null` or `""` clears one. `custom_fields` are merged key by key. Returns 201 when the '
            "contact was created, 200 when it was updated."
        ),
        parameters=[USER_ID_PARAMETER],
        request=ContactInputSerializer,
        responses={200: ContactSerializer, 201: ContactSerializer, **error_responses(400, 401, 429)},
        examples=[
            OpenApiExample(
                "A paying user",
                request_only=True,
                value={
                    "email": "ada@example.com",
                    "name": "Ada Lovelace",
                    "plan": "pro",
                    "custom_fields": {"is_vip": True, "seats": 12},
                    "company": {"company_id": "acme", "name": "Acme", "plan": "enterprise", "mrr": 4900},
                    "stripe": {"subscription_status": "active", "mrr": 49, "lifetime_value": 1176},
                },
            )
        ],
        tags=["contacts"],
    )
    def put(self, request: Request, user_id: str) -> Response:
        user_id = _user_id(user_id)
        serializer = ContactInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = contact_upsert(workspace=request_workspace(request), user_id=user_id, data=serializer.validated_data)
        return Response(
            ContactSerializer(result.contact).data, status=status.HTTP_201_CREATED if result.created else 200
        )


class ContactEventsView(APIView):
    @extend_schema(
        operation_id="contact_events_record",
        summary="Record activity (page views)",
        description=(
            'One event, or up to 100 as `{"events": [...]}` (all or nothing). Moves the contact\'s '
            "`last_active_at` forward to the latest event."
        ),
        parameters=[USER_ID_PARAMETER],
        request=PolymorphicProxySerializer(
            component_name="EventsInput",
            serializers=[EventInputSerializer, EventBatchInputSerializer],
            resource_type_field_name=None,
        ),
        responses={201: EventsRecordedSerializer, **error_responses(400, 401, 404, 429)},
        tags=["contacts"],
    )
    def post(self, request: Request, user_id: str) -> Response:
        contact = contact_get(workspace=request_workspace(request), user_id=_user_id(user_id))
        if contact is None:
            raise ApiError(
                ErrorCode.CONTACT_NOT_FOUND, "No contact with this user_id: PUT the contact first.", status=404
            )
        events = _events(request.data)
        now = timezone.now()
        page_views_record(contact=contact, views=[(event["url"], event.get("occurred_at") or now) for event in events])
        return Response(
            EventsRecordedSerializer({"recorded": len(events), "last_active_at": contact.last_active_at}).data,
            status=status.HTTP_201_CREATED,
        )


def _events(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict) and "events" in data:
        batch = EventBatchInputSerializer(data=data)
        batch.is_valid(raise_exception=True)
        return list(batch.validated_data["events"])
    single = EventInputSerializer(data=data)
    single.is_valid(raise_exception=True)
    return [dict(single.validated_data)]


class BusinessHoursView(APIView):
    @extend_schema(
        operation_id="business_hours_get",
        summary="Read the business hours",
        description="The workspace's opening hours, holidays and first-reply targets (open around the clock "
        "until set).",
        responses={200: BusinessHoursSerializer, **error_responses(401, 429)},
        tags=["business hours"],
    )
    def get(self, request: Request) -> Response:
        return Response(BusinessHoursSerializer(business_hours_get(workspace=request_workspace(request))).data)

    @extend_schema(
        operation_id="business_hours_set",
        summary="Set the business hours",
        description=(
            "Fields left out keep their values. Refused with field errors (400) when a period closes at or "
            "before it opens, periods of a day overlap, a time is not HH:MM, or the time zone or country is "
            "unknown; nothing is changed then."
        ),
        request=BusinessHoursInputSerializer,
        responses={200: BusinessHoursSerializer, **error_responses(400, 401, 429)},
        tags=["business hours"],
    )
    def put(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": ["Send a JSON object."]})
        workspace = request_workspace(request)
        business_hours_set(workspace=workspace, data=request.data)
        return Response(BusinessHoursSerializer(business_hours_get(workspace=workspace)).data)
