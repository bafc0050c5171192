"""OFREP routes, mounted at /ofrep/v1/ (no trailing slash: the providers never send one)."""

from django.urls import path

from orchestrator.flags import ofrep

urlpatterns = [
    path(ofrep.BULK_PATH, ofrep.evaluate_flags, name="ofrep-bulk"),
    path(f"{ofrep.BULK_PATH}/<str:key>", ofrep.evaluate_flag, name="ofrep-flag"),
    path("configuration", ofrep.configuration, name="ofrep-configuration"),
]
