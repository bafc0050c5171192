"""A task for tests/core/test_deployments.py: it notes which deployment ran it."""

from django.conf import settings


def mark(path: str, n: int) -> None:
    with open(path, "a") as marks:
        marks.write(f"{settings.DEPLOYMENT_NAME} {n}\n")
