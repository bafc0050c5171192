"""OpenAPI generation: every operation declares the error answers it can give.

The API answers every error in one JSON shape (`orchestrator/core/api.py`). drf-spectacular
documents only the success answer of each operation, so a client generated from the schema
could not know that shape, and schemathesis' `status_code_conformance` rightly calls each
400 or 404 undocumented. Rather than repeat `responses={400: …, 404: …}` on every view (and
miss it on the next one), the schema class adds the error answers that follow from the
operation itself: its method, whether its path names an object, and its authentication.
"""

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
BODY_METHODS = ("POST", "PUT", "PATCH")


class ErrorSerializer(serializers.Serializer):
    """The one error shape of the whole API."""

    error = serializers.CharField(help_text="One line naming the problem.")
    detail = serializers.JSONField(
        required=False, help_text="DRF's structured detail: field → messages, or a message."
    )


ERROR_DESCRIPTIONS = {
    400: "The request is malformed or fails validation; `error` names the field.",
    401: "No valid credentials: send `Authorization: Token <key>` or log in.",
    403: "Authenticated, but not a staff user.",
    404: "No such object, or a version that does not exist.",
    409: "The request conflicts with the object's current state.",
    415: "The body's content type is not one this operation reads.",
}


class ContextenAutoSchema(AutoSchema):
    """drf-spectacular's schema, plus the error answers each operation can give."""

    def _get_response_bodies(self, direction="response"):
        bodies = super()._get_response_bodies(direction)
        if direction != "response":
            return bodies
        for code in self.error_statuses():
            if str(code) not in bodies:
                bodies[str(code)] = self._error_response(code, direction)
        return bodies

    def error_statuses(self) -> list[int]:
        method = self.method.upper()
        codes = [400]
        if self.view.get_authenticators():
            codes += [401, 403]
        if "{" in self.path:
            codes.append(404)
        if method in UNSAFE_METHODS:
            codes.append(409)
        if method in BODY_METHODS:
            codes.append(415)
        return codes

    def _error_response(self, code: int, direction: str) -> dict:
        response = self._get_response_for_code(ErrorSerializer, str(code), direction=direction)
        response["description"] = ERROR_DESCRIPTIONS[code]
        return response
