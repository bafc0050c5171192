"""An operator in a real browser: change a configuration, compare versions, roll back."""

import pytest
from playwright.sync_api import expect

from extensions.config import store
from extensions.config.models import ConfigDocument
from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_user(
        "ops", password="ops-pass-123", is_staff=True, is_superuser=True
    )


def test_operator_edits_compares_and_rolls_back_with_secrets_masked(served, browser_page, operator):
    base_url, _ = served
    store.save("core", {"team": "a", "secrets": {"hook": "literal-secret"}}, author="seed")
    page = browser_page
    log_in(page, base_url, "ops", "ops-pass-123")
    document = ConfigDocument.objects.get(namespace="core")
    page.goto(f"{base_url}/admin/config/configdocument/{document.pk}/change/")
    assert "literal-secret" not in page.content()

    page.click("text=Change document")
    page.fill("#id_data", '{"team": "b", "secrets": {"hook": "********"}}')
    page.fill("#id_reason", "rename the team")
    page.click("input[type=submit][value='Save as a new version']")
    page.wait_for_selector("text=core: now version 2")
    assert store.stored("core") == {"team": "b", "secrets": {"hook": "literal-secret"}}

    page.click("text=Compare versions")
    page.select_option("#id_from", "1")
    page.select_option("#id_to", "2")
    page.click("input[type=submit][value='Compare']")
    # The click returns before the new page has loaded: wait for it, not for a fixed time.
    page.wait_for_url("**/diff/?from=1&to=2")
    patch = page.locator("#config-patch")
    expect(patch).to_contain_text("replace")
    expect(patch).to_contain_text("/team")
    expect(patch).not_to_contain_text("literal-secret")

    page.goto(f"{base_url}/admin/config/configdocument/{document.pk}/change/")
    page.click("text=Roll back to this version")
    expect(page.locator("#config-patch")).to_contain_text("/team")
    page.click("input[type=submit][value='Roll back to this version']")
    page.wait_for_selector("text=core: now version 3")
    assert store.stored("core")["team"] == "a"
    assert "literal-secret" not in page.content()
