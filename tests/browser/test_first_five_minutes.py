"""The first five minutes in a real browser: log in, see the admin, watch the dashboard."""

import pytest

from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo_admin(django_user_model):
    return django_user_model.objects.create_user(
        "demo", password="demo-pass-123", is_staff=True, is_superuser=True
    )


def test_staff_logs_in_and_dashboard_goes_live(served, browser_page, demo_admin):
    base_url, _ = served
    log_in(browser_page, base_url, "demo", "demo-pass-123")
    assert "Contexten control plane" in browser_page.content()
    browser_page.goto(f"{base_url}/dashboard/")
    browser_page.wait_for_selector("#ws-state:text('live as demo')", timeout=15_000)


def test_wrong_password_stays_on_login_with_message(served, browser_page, demo_admin):
    base_url, _ = served
    browser_page.goto(f"{base_url}/admin/login/")
    browser_page.fill("#id_username", "demo")
    browser_page.fill("#id_password", "wrong")
    browser_page.click("input[type=submit]")
    error = browser_page.wait_for_selector(".errornote", timeout=15_000)
    assert "Please enter the correct username and password" in error.inner_text()
    assert browser_page.url.startswith(f"{base_url}/admin/login/")


def test_swagger_ui_renders_the_schema(served, browser_page, demo_admin):
    base_url, _ = served
    log_in(browser_page, base_url, "demo", "demo-pass-123")
    browser_page.goto(f"{base_url}/api/docs/")
    browser_page.wait_for_selector(".swagger-ui .info .title", timeout=15_000)
    assert "Contexten control plane API" in browser_page.inner_text(".swagger-ui .info .title")
