"""``GET /api/v1/reports/escalation``: the escalation report of the caller's workspace (``escalation.reports``),
as JSON; ``GET /api/v1/reports/escalation.csv`` is the same report as CSV, one row per day plus a total row."""

import csv
import io
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from escalation.reports import CSV_COLUMNS, escalation_report, report_csv_rows, report_public, report_query_parse
from halo.api.authentication import request_workspace
from halo.api.schema import error_responses

REPORT_PARAMETERS = [
    OpenApiParameter("agent", int, OpenApiParameter.QUERY, description="One agent's id (default: every agent)."),
    OpenApiParameter(
        "from", OpenApiTypes.DATE, OpenApiParameter.QUERY, description="First day, in the workspace's time zone."
    ),
    OpenApiParameter(
        "to", OpenApiTypes.DATE, OpenApiParameter.QUERY, description="Last day, included (default: today)."
    ),
    OpenApiParameter(
        "version", int, OpenApiParameter.QUERY, description="Only what the agent's settings version N decided."
    ),
]


class _Csat(serializers.Serializer[Any]):
    average = serializers.FloatField(allow_null=True, help_text="Average rating, 1-5.")
    count = serializers.IntegerField()


class _CsatSides(serializers.Serializer[Any]):
    ai = _Csat(help_text="Tickets closed without a teammate's reply.")
    human = _Csat(help_text="Tickets a teammate replied to.")


class _Counts(serializers.Serializer[Any]):
    conversations = serializers.IntegerField()
    involvement_rate = serializers.FloatField(allow_null=True)
    ai_resolution_rate = serializers.FloatField(allow_null=True)
    escalation_rate = serializers.FloatField(allow_null=True)
    escalations_by_reason = serializers.DictField(child=serializers.IntegerField())
    held_back_by = serializers.DictField(child=serializers.IntegerField())
    delayed_escalations = serializers.IntegerField()
    verdicts = serializers.DictField(child=serializers.IntegerField())
    reopen_rate = serializers.FloatField(allow_null=True)
    median_first_reply_seconds = serializers.FloatField(allow_null=True)
    sla_met_rate = serializers.FloatField(allow_null=True)
    csat = _CsatSides()


class _Day(_Counts):
    date = serializers.DateField()


class EscalationReportSerializer(_Counts):
    to = serializers.DateField(help_text="Last day (included).")
    agent = serializers.IntegerField(allow_null=True)
    version = serializers.IntegerField(allow_null=True)
    daily = _Day(many=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["from"] = serializers.DateField(help_text="First day (included).")  # a keyword in Python


class EscalationReportView(APIView):
    @extend_schema(
        operation_id="report_escalation",
        summary="The escalation report",
        description=(
            "What the AI did over a date range: involvement, AI resolution (the conversations it took part in "
            "that never escalated), escalations by reason, turns held back by rule, delayed escalations (held "
            "back, then escalated in the same conversation), verdicts, reopens, first reply, SLA and CSAT, in "
            "total and day by day. Rates are 0-1, null when there is nothing to divide. Counted from daily "
            "rollups brought up to date every minute."
        ),
        parameters=REPORT_PARAMETERS,
        responses={200: EscalationReportSerializer, **error_responses(400, 401, 429)},
        tags=["reports"],
    )
    def get(self, request: Request) -> Response:
        query = report_query_parse(
            workspace=request_workspace(request), params=request.query_params.dict(), blank_is_default=False
        )
        return Response(report_public(escalation_report(query)))


class EscalationReportCsvView(APIView):
    @extend_schema(
        operation_id="report_escalation_csv",
        summary="The escalation report as CSV",
        description="The same report, one row per day and a `total` row; rates are 0-1, empty when undefined.",
        parameters=REPORT_PARAMETERS,
        responses={(200, "text/csv"): OpenApiTypes.STR, **error_responses(400, 401, 429)},
        tags=["reports"],
    )
    def get(self, request: Request) -> HttpResponse:
        query = report_query_parse(
            workspace=request_workspace(request), params=request.query_params.dict(), blank_is_default=False
        )
        return report_csv_response(escalation_report(query))


def report_csv_response(report: dict[str, Any]) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(["" if value is None else value for value in row] for row in report_csv_rows(report))
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    filename = f"escalation-report-{report['from']}-{report['to']}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
