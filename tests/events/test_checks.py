"""The event store's system checks refuse settings that cannot work."""

from orchestrator.events.checks import check_event_settings, check_unsigned_platforms


def test_defaults_pass():
    assert check_event_settings(None) == []


def test_zero_attempts_is_an_error(settings):
    settings.EVENT_MAX_ATTEMPTS = 0
    [error] = check_event_settings(None)
    assert error.id == "events.E001"
    assert "EVENT_MAX_ATTEMPTS" in error.msg


def test_unknown_unsigned_platform_is_an_error(settings):
    settings.DEBUG = True
    settings.WEBHOOK_ALLOW_UNSIGNED = ["githb"]
    assert [problem.id for problem in check_unsigned_platforms(None)] == ["events.E002"]


def test_unsigned_input_without_debug_is_warned_about(settings):
    settings.DEBUG = False
    settings.WEBHOOK_ALLOW_UNSIGNED = ["github"]
    assert [problem.id for problem in check_unsigned_platforms(None)] == ["events.W001"]
