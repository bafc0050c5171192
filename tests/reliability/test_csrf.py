"""CSRF is on for session auth: a logged-in browser cannot be made to change anything.

A session-authenticated unsafe API request without the CSRF token is refused (403) and
changes nothing; with the token (cookie + `X-CSRFToken`, as the admin's pages send it) it is
accepted. API tokens are not ambient credentials, so token requests need no CSRF token.
The test client normally skips CSRF checks; `enforce_csrf_checks=True` turns them back on.
"""

import pytest
from django.test import Client

from orchestrator.flags.models import Flag

pytestmark = pytest.mark.django_db
FLAG = {"key": "csrf-probe", "enabled": True}


@pytest.fixture
def browser(staff_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    return client


def csrf_token(client: Client) -> str:
    client.get("/admin/")  # any page with a form sets the cookie
    return client.cookies["csrftoken"].value


def test_a_session_post_without_the_csrf_token_is_refused(browser):
    answer = browser.post("/api/flags/", FLAG, content_type="application/json")
    assert answer.status_code == 403
    assert "CSRF" in str(answer.json())
    assert not Flag.objects.exists()


def test_a_forged_token_is_refused_too(browser):
    csrf_token(browser)
    answer = browser.post(
        "/api/flags/", FLAG, content_type="application/json", HTTP_X_CSRFTOKEN="x" * 32
    )
    assert answer.status_code == 403 and not Flag.objects.exists()


def test_a_session_post_with_the_csrf_token_is_accepted(browser):
    token = csrf_token(browser)
    answer = browser.post(
        "/api/flags/", FLAG, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert answer.status_code == 201
    assert Flag.objects.filter(key="csrf-probe").exists()


def test_unsafe_methods_other_than_post_are_checked(browser, api_client):
    assert api_client.post("/api/flags/", FLAG, format="json").status_code == 201
    assert browser.delete("/api/flags/csrf-probe/").status_code == 403
    assert browser.patch("/api/flags/csrf-probe/", {}, "application/json").status_code == 403
    assert Flag.objects.filter(key="csrf-probe").exists()


def test_token_requests_need_no_csrf_token(api_client):
    api_client.handler.enforce_csrf_checks = True
    assert api_client.post("/api/flags/", FLAG, format="json").status_code == 201
