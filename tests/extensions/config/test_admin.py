"""The admin: namespaces listed, read-only history, diff view, "Roll back to this version"."""

import pytest
from django.urls import reverse

from extensions.config import demo, store
from extensions.config.models import ConfigDocument, ConfigVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def two_versions():
    store.save("core", {"team": "a", "secrets": {"hook": "literal-secret"}}, author="t")
    store.save("core", {"team": "b", "secrets": {"hook": "literal-secret"}}, author="t")
    return ConfigDocument.objects.get(namespace="core")


def test_the_list_shows_every_known_namespace_even_before_a_change(admin_client):
    page = admin_client.get(reverse("admin:config_configdocument_changelist"))
    assert page.status_code == 200 and b"core" in page.content


def test_a_namespace_page_shows_history_and_masks_secrets(admin_client, two_versions):
    page = admin_client.get(reverse("admin:config_configdocument_change", args=[two_versions.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert "Roll back to this version" in text and "Compare versions" in text
    assert "literal-secret" not in text and "********" in text


def test_the_diff_view_shows_the_patch_between_any_two_versions(admin_client, two_versions):
    url = reverse("admin:config_configdocument_diff", args=[two_versions.pk])
    text = admin_client.get(f"{url}?from=0&to=2").content.decode()
    assert "/team" in text and "literal-secret" not in text
    assert "replace" in admin_client.get(f"{url}?from=1&to=2").content.decode()


def test_roll_back_to_this_version_confirms_then_makes_a_new_version(admin_client, two_versions):
    url = reverse("admin:config_configdocument_rollback", args=[two_versions.pk, 1])
    confirm = admin_client.get(url).content.decode()
    assert "/team" in confirm and "literal-secret" not in confirm
    admin_client.post(url, {"reason": "b broke the deploys"})
    latest = ConfigVersion.objects.order_by("-version").first()
    assert (latest.version, latest.restored_from, latest.reason) == (3, 1, "b broke the deploys")
    assert store.stored("core")["team"] == "a"


def test_the_versions_list_action_rolls_back(admin_client, two_versions):
    row = ConfigVersion.objects.get(version=1)
    admin_client.post(
        reverse("admin:config_configversion_changelist"),
        {"action": "roll_back", "_selected_action": [row.pk]},
    )
    assert store.current_version("core") == 3
    page = admin_client.get(reverse("admin:config_configversion_change", args=[row.pk]))
    assert page.status_code == 200 and b"literal-secret" not in page.content


def test_editing_validates_against_the_schema_and_keeps_masked_secrets(admin_client, two_versions):
    url = reverse("admin:config_configdocument_edit", args=[two_versions.pk])
    refused = admin_client.post(url, {"data": '{"team": 5}', "reason": "x"})
    assert "$.team" in refused.content.decode() and store.current_version("core") == 2
    admin_client.post(url, {"data": '{"team": "c", "secrets": {"hook": "********"}}'})
    assert store.stored("core") == {"team": "c", "secrets": {"hook": "literal-secret"}}


def test_the_demo_seeds_core_once():
    assert "seeded as version 1" in demo.seed_core_config()
    assert "kept at version 1" in demo.seed_core_config()
