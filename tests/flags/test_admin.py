"""The admin as the operators' surface: edit with validation, ramp, kill, history, restore."""

import pytest

from orchestrator.flags.models import Flag, FlagVersion
from tests.flags.conftest import FULL_FLAG

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client, staff_user):
    client.force_login(staff_user)
    return client


def form_data(**overrides) -> dict:
    data = {
        "key": "new-checkout",
        "description": "",
        "enabled": "on",
        "variants": "",
        "default_variant": "",
        "rules": "[]",
        "rollout_variant": "",
        "rollout_percentage": "25",
        "rollout_plan": "[]",
        "guard": "null",
        "reason": "created in the admin",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
    }
    return {**data, **overrides}


def test_add_flag_through_the_admin_writes_version_one(operator):
    response = operator.post("/admin/flags/flag/add/", form_data())
    assert response.status_code == 302, response.content.decode()[:3000]
    flag = Flag.objects.get()
    assert (flag.variants, flag.version) == ({"on": True, "off": False}, 1)
    assert flag.versions.get().reason == "created in the admin"


def test_bad_rule_is_shown_on_the_rules_field_and_nothing_is_saved(operator):
    rules = '[{"variant": "on", "when": {"attribute": "email", "op": "regex", "value": "(["}}]'
    response = operator.post("/admin/flags/flag/add/", form_data(rules=rules))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "bad regex" in errors["rules"][0]
    assert not Flag.objects.exists()


def test_unknown_variant_is_a_form_error(operator):
    response = operator.post("/admin/flags/flag/add/", form_data(default_variant="maybe"))
    errors = response.context["adminform"].form.errors
    assert "unknown variant 'maybe'" in errors["default_variant"][0]


def test_edit_keeps_the_key_and_adds_a_version(operator, make_flag):
    flag = make_flag(FULL_FLAG)
    data = form_data(
        key="renamed",
        variants='{"on": true, "off": false}',
        default_variant="off",
        rollout_variant="on",
        rollout_percentage="40",
        versions_TOTAL_FORMS="1",
    )
    response = operator.post(f"/admin/flags/flag/{flag.pk}/change/", data)
    assert response.status_code == 302
    flag.refresh_from_db()
    assert (flag.key, float(flag.rollout_percentage), flag.version) == ("new-checkout", 40.0, 2)


def test_kill_switch_action_disables_selected_flags(operator, make_flag):
    flag = make_flag(FULL_FLAG)
    operator.post("/admin/flags/flag/", {"action": "disable_flags", "_selected_action": [flag.pk]})
    flag.refresh_from_db()
    assert flag.enabled is False
    assert flag.versions.get(version=2).reason == "kill switch in the admin"


def test_ramp_action_asks_then_ramps(operator, make_flag):
    flag = make_flag(FULL_FLAG)
    ask = operator.post(
        "/admin/flags/flag/", {"action": "ramp_flags", "_selected_action": [flag.pk]}
    )
    assert b"Ramp flags to a percentage" in ask.content
    operator.post(
        "/admin/flags/flag/",
        {"action": "ramp_flags", "_selected_action": [flag.pk], "apply": "1", "percentage": "60"},
    )
    flag.refresh_from_db()
    assert float(flag.rollout_percentage) == 60.0


def test_change_page_shows_history_with_diffs_and_restore(operator, make_flag):
    from orchestrator.flags import services

    flag = make_flag(FULL_FLAG)
    services.ramp("new-checkout", 50, actor=services.Actor("t"))
    page = operator.get(f"/admin/flags/flag/{flag.pk}/change/").content.decode()
    assert "rollout.percentage" in page and "25.0 → 50.0" in page
    assert "Restore this version" in page


def test_restore_asks_then_restores_as_a_new_version(operator, make_flag):
    from orchestrator.flags import services

    flag = make_flag(FULL_FLAG)
    services.ramp("new-checkout", 50, actor=services.Actor("t"))
    url = f"/admin/flags/flag/{flag.pk}/restore/1/"
    assert b"Restore new-checkout to version 1?" in operator.get(url).content
    assert Flag.objects.get().version == 2
    operator.post(url, {"reason": "too early"})
    flag.refresh_from_db()
    assert (flag.version, float(flag.rollout_percentage)) == (3, 25.0)
    assert flag.versions.get(version=3).reason == "too early"


def test_history_admin_is_read_only_with_a_restore_action(operator, make_flag):
    from orchestrator.flags import services

    make_flag(FULL_FLAG)
    services.ramp("new-checkout", 50, actor=services.Actor("t"))
    first = FlagVersion.objects.get(version=1)
    assert operator.get("/admin/flags/flagversion/").status_code == 200
    assert operator.get(f"/admin/flags/flagversion/{first.pk}/change/").status_code == 200
    operator.post(
        "/admin/flags/flagversion/", {"action": "restore_versions", "_selected_action": [first.pk]}
    )
    assert float(Flag.objects.get().rollout_percentage) == 25.0
    assert operator.get("/admin/flags/flagversion/add/").status_code == 403


def test_changelist_search_and_filter(operator, make_flag):
    make_flag(FULL_FLAG)
    make_flag({"key": "other", "enabled": False})
    page = operator.get("/admin/flags/flag/?q=checkout&enabled__exact=1").content.decode()
    assert "new-checkout" in page and ">other<" not in page


def test_flags_cannot_be_deleted_so_history_survives(operator, make_flag):
    flag = make_flag(FULL_FLAG)
    assert operator.post(f"/admin/flags/flag/{flag.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Flag.objects.exists() and FlagVersion.objects.exists()


def test_changelist_shows_a_guard_rollback_at_once(operator, make_flag):
    from orchestrator.flags import guard

    flag = make_flag(FULL_FLAG)
    guard.roll_back(flag, "error rate 9/10 = 90% over the 5% limit")
    page = operator.get("/admin/flags/flag/").content.decode()
    assert "rolled back by guard" in page and "90% over the 5% limit" in page
