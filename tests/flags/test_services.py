"""Changes go through services: versioned with who/when/what/why, atomically, or not at all."""

import pytest

from orchestrator.flags import services
from orchestrator.flags.models import Flag, FlagVersion
from orchestrator.flags.schema import FlagDocumentError
from tests.flags.conftest import FULL_FLAG

pytestmark = pytest.mark.django_db


def test_create_writes_version_one_with_snapshot_and_reason(make_flag):
    flag = make_flag(FULL_FLAG, reason="launch prep")
    row = flag.versions.get()
    assert (flag.version, row.version, row.action, row.actor) == (1, 1, "create", "test")
    assert row.reason == "launch prep"
    assert row.snapshot["rollout"]["percentage"] == 25.0
    assert row.diff["rollout"][1]["percentage"] == 25.0


def test_ramp_records_the_diff_and_who(make_flag, staff_user):
    make_flag(FULL_FLAG)
    flag = services.ramp(
        "new-checkout", 50, actor=services.Actor.of(staff_user), reason="going well"
    )
    row = flag.versions.get(version=2)
    assert row.diff == {"rollout.percentage": [25.0, 50.0]}
    assert (row.actor, row.changed_by, row.reason) == ("operator", staff_user, "going well")


def test_rollback_restores_the_previous_snapshot_as_a_new_version(make_flag):
    make_flag(FULL_FLAG)
    services.ramp("new-checkout", 75, actor=services.Actor("t"))
    flag = services.rollback("new-checkout", actor=services.Actor("t"), reason="too fast")
    assert (flag.version, float(flag.rollout_percentage)) == (3, 25.0)
    assert flag.versions.get(version=3).action == "rollback"


def test_rollback_to_a_named_version(make_flag):
    make_flag(FULL_FLAG)
    for pct in (30, 40, 60):
        services.ramp("new-checkout", pct, actor=services.Actor("t"))
    flag = services.rollback("new-checkout", 2, actor=services.Actor("t"))
    assert float(flag.rollout_percentage) == 30.0


@pytest.mark.parametrize("version", [0, 1, 99])
def test_rollback_to_current_or_unknown_version_is_refused_and_stores_nothing(make_flag, version):
    make_flag(FULL_FLAG)
    with pytest.raises(FlagDocumentError, match="no earlier version"):
        services.rollback("new-checkout", version, actor=services.Actor("t"))
    assert FlagVersion.objects.count() == 1


def test_invalid_ramp_changes_nothing(make_flag):
    make_flag(FULL_FLAG)
    with pytest.raises(FlagDocumentError, match="out of range"):
        services.ramp("new-checkout", 150, actor=services.Actor("t"))
    flag = Flag.objects.get()
    assert (flag.version, float(flag.rollout_percentage)) == (1, 25.0)
    assert FlagVersion.objects.count() == 1


def test_unknown_flag_is_refused():
    with pytest.raises(services.FlagNotFound, match="no flag 'ghost'"):
        services.ramp("ghost", 10, actor=services.Actor("t"))


def test_kill_switch_disables_and_is_versioned(make_flag):
    make_flag(FULL_FLAG)
    flag = services.set_enabled("new-checkout", False, actor=services.Actor("t"))
    assert flag.enabled is False
    assert flag.versions.get(version=2).diff == {"enabled": [True, False]}
