"""Cursor (keyset) pagination of the server API's lists: constant cost per page, no ``COUNT(*)``, opaque
``next``/``previous`` links. ``limit`` picks the page size and is validated like any parameter (DRF would
silently fall back to the default on a bad value); a ``cursor`` that is not one of ours is a 400, like any
bad parameter (DRF answers 404)."""

from typing import Any

from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

from halo.api.error_codes import ErrorCode
from halo.api.errors import ApiError
from halo.params import parse_int


class KeysetPagination(CursorPagination):
    ordering: str | tuple[str, ...] = "-id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        limit = parse_int(raw, minimum=1, maximum=self.max_page_size)
        if limit is None:
            raise ApiError(
                ErrorCode.INVALID,
                f"limit: an integer from 1 to {self.max_page_size}.",
                status=400,
                fields={"limit": [f"An integer from 1 to {self.max_page_size}."]},
            )
        return limit

    def decode_cursor(self, request: Request) -> Cursor | None:
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ApiError(
                ErrorCode.INVALID,
                "cursor: not a cursor of this list; follow the `next` link.",
                status=400,
                fields={"cursor": ["Invalid cursor."]},
            ) from None

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
        return parameters
