"""Admin login is rate-limited: N failures for one username from one address lock it out.

The lock holds even against the right password, it is shared through the database (so every
process and host sees it), and it clears by itself after the cool-off. Time is moved by
ageing the stored attempts, which is what the clock passing does to them.
"""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "operator-pass-123"  # the staff_user fixture's


def attempt(client: Client, password: str, address: str = "10.0.0.1"):
    data = {"username": "operator", "password": password, "next": "/admin/"}
    return client.post(LOGIN, data, REMOTE_ADDR=address)


def test_the_product_default_has_the_limit_on():
    assert settings.AXES_ENABLED is True
    assert settings.AXES_FAILURE_LIMIT == 5
    assert timedelta(minutes=15) == settings.AXES_COOLOFF_TIME
    assert settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"


@pytest.mark.django_db
def test_failures_lock_out_even_the_right_password_until_the_cool_off(staff_user):
    client = Client()
    limit = settings.AXES_FAILURE_LIMIT
    answers = [attempt(client, "wrong").status_code for _ in range(limit)]
    # The first limit-1 failures re-show the form; the limit-th is the lockout itself.
    assert answers == [200] * (limit - 1) + [429]
    assert attempt(client, PASSWORD).status_code == 429
    assert "_auth_user_id" not in client.session

    age_attempts(settings.AXES_COOLOFF_TIME + timedelta(seconds=1))
    answer = attempt(client, PASSWORD)
    assert answer.status_code == 302 and answer["Location"] == "/admin/"
    assert client.session["_auth_user_id"] == str(staff_user.pk)


@pytest.mark.django_db
def test_the_lock_is_per_username_and_address(staff_user):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, "wrong", address="10.0.0.1")
    assert attempt(Client(), PASSWORD, address="10.0.0.2").status_code == 302
    # A forwarded-for header is the client's word, not its address: it does not unlock.
    spoofed = Client(HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert attempt(spoofed, PASSWORD, address="10.0.0.1").status_code == 429


@pytest.mark.django_db
def test_a_success_before_the_limit_resets_the_count(staff_user):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, "wrong")
    assert attempt(client, PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(client, "wrong").status_code == 200
    assert attempt(client, PASSWORD).status_code == 302


def age_attempts(by: timedelta) -> None:
    for row in AccessAttempt.objects.all():
        row.attempt_time -= by
        row.save(update_fields=["attempt_time"])
