"""REST API plumbing shared by every resource: one JSON error shape."""

import logging

from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger("contexten.api")


def exception_handler(exc, context):
    """Answer every error as JSON {"error": <one line>, "detail": <DRF detail>}.

    DRF already turns its own exceptions into responses; anything else would become a 500
    page with a traceback, so it is logged and answered as JSON instead.
    """
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("api.unhandled-error", exc_info=exc)
        return Response(
            {"error": "internal error; the server log has the details"},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    response.data = {"error": summarise(response.data), "detail": response.data}
    return response


def summarise(detail) -> str:
    """Flatten DRF's nested error detail into one readable line."""
    if isinstance(detail, dict):
        if set(detail) == {"detail"}:
            return summarise(detail["detail"])
        return "; ".join(f"{key}: {summarise(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return "; ".join(summarise(item) for item in detail)
    return str(detail)


class Pagination(LimitOffsetPagination):
    """Limit/offset pages with bounds: a huge `limit` or `offset` is a 400, not a database
    overflow (SQLite integers stop at 2**63) or a page too large to answer."""

    max_limit = 1000
    max_offset = 2**31

    def get_offset(self, request) -> int:
        offset = super().get_offset(request)
        if offset > self.max_offset:
            raise ValidationError({"offset": f"at most {self.max_offset}"})
        return offset
