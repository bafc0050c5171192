"""OFREP routes, mounted at /ofrep/v1/ (no trailing slash: the providers never send one)."""

from django.urls import path

from orchestrator.flags import ofrep

urlpatterns = [
    path("evaluate/flags", ofrep.evaluate_flags, name="ofrep-bulk"),
    path("evaluate/flags/<str:key>", ofrep.evaluate_flag, name="ofrep-flag"),
    path("configuration", ofrep.configuration, name="ofrep-configuration"),
]
