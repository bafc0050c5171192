"""REST API plumbing shared by every resource: one JSON error shape."""

import logging

from rest_framework import status
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
