"""The extensions admin: the installed list, operator actions, read-only history."""

import pytest

from extensions.models import Extension, ExtensionHistory
from tests.extensions.echo import build_echo

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, staff_user):
    client.force_login(staff_user)
    return client


def test_the_list_shows_the_built_ins_with_versions_and_state(admin_client):
    page = admin_client.get("/admin/extensions/extension/").content.decode()
    for name in ("core", "github", "linear", "slack"):
        assert f">{name}<" in page
    assert "Hot-swap to the newest installed version" in page


def test_disable_then_enable_actions_write_history_the_admin_cannot_edit(admin_client):
    admin_client.get("/admin/extensions/extension/")
    slack = Extension.objects.get(name="slack")
    for action in ("disable_selected", "enable_selected"):
        answer = admin_client.post(
            "/admin/extensions/extension/", {"action": action, "_selected_action": [slack.pk]}
        )
        assert answer.status_code == 302
    changes = ExtensionHistory.objects.filter(extension="slack").values_list("change", flat=True)
    assert list(changes)[:2] == ["enable", "disable"]
    entry = ExtensionHistory.objects.filter(extension="slack").first()
    assert (
        admin_client.get(f"/admin/extensions/extensionhistory/{entry.pk}/change/").status_code
        == 200
    )
    assert (
        admin_client.post(f"/admin/extensions/extensionhistory/{entry.pk}/delete/").status_code
        == 403
    )


def test_hot_swap_action_switches_to_the_newest_version(admin_client, settings, tmp_path):
    from extensions import lifecycle

    settings.EXTENSIONS_DIR = tmp_path / "extensions"
    lifecycle.install(build_echo(tmp_path, "1.0.0"))
    lifecycle.install(build_echo(tmp_path, "1.10.0"))
    echo = Extension.objects.get(name="echo")
    admin_client.post(
        "/admin/extensions/extension/",
        {"action": "switch_to_newest_version", "_selected_action": [echo.pk]},
    )
    assert Extension.objects.get(name="echo").active_version == "1.10.0"
