"""Install, upgrade, disable and uninstall through the lifecycle service, and every refusal."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from extensions import lifecycle, registry
from extensions.models import Extension, ExtensionHistory
from tests.extensions.echo import build_echo

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def extensions_dir(settings, tmp_path):
    settings.EXTENSIONS_DIR = tmp_path / "var-extensions"
    return settings.EXTENSIONS_DIR


def test_spec_echo_installs_from_a_source_folder_into_its_own_folder(tmp_path, extensions_dir):
    result = lifecycle.install(build_echo(tmp_path), actor="test")
    assert (result.name, result.version, result.message) == ("echo", "1.0.0", "installed")
    assert (extensions_dir / "echo" / "1.0.0" / "my_echo" / "__init__.py").is_file()
    assert registry.get_action("echo.say").name == "echo.say"
    assert registry.pin("echo.say") == ("echo", "1.0.0")


def test_two_versions_load_side_by_side_and_upgrade_switches_new_pins(tmp_path):
    lifecycle.install(build_echo(tmp_path, "1.0.0"))
    lifecycle.install(build_echo(tmp_path, "2.0.0"))
    assert registry.pin("echo.say") == ("echo", "1.0.0")
    lifecycle.upgrade("echo", "2.0.0", actor="test")
    assert registry.pin("echo.say") == ("echo", "2.0.0")
    old, new = registry.get_action("echo.say", "1.0.0"), registry.get_action("echo.say", "2.0.0")
    assert old.handler.__module__ != new.handler.__module__
    assert ExtensionHistory.objects.filter(extension="echo", change="upgrade").exists()


def test_failing_setup_on_upgrade_switches_back_and_history_says_why(tmp_path):
    lifecycle.install(build_echo(tmp_path, "1.0.0"))
    boom = "def boom():\n    raise RuntimeError('no database for echo')\n"
    lifecycle.install(build_echo(tmp_path, "2.0.0", before=boom, fields="setup=boom, "))
    with pytest.raises(lifecycle.LifecycleError, match=r"setup failed .*no database for echo"):
        lifecycle.upgrade("echo", "2.0.0")
    assert Extension.objects.get(name="echo").active_version == "1.0.0"
    rollback = ExtensionHistory.objects.get(extension="echo", change="rollback")
    assert "no database for echo" in rollback.reason
    assert not rollback.ok


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda s: s.replace('name="echo"', 'name="Echo!"'), "bad manifest: name 'Echo!'"),
        (lambda s: s.replace('version="1.0.0"', 'version="one"'), "not a PEP 440 version"),
        (lambda s: s.replace("actions=[say],", "actions=[say], core='>=99',"), "needs core >=99"),
        (lambda s: "import not_a_module\n" + s, "failed to import: ModuleNotFoundError"),
        (lambda s: s.replace('{"type": "object"', '{"type": "objekt"'), "not valid JSON Schema"),
    ],
)
def test_bad_packages_are_refused_with_the_reason_and_nothing_changes(
    tmp_path, edit, reason, extensions_dir
):
    folder = build_echo(tmp_path)
    init = folder / "my_echo" / "__init__.py"
    init.write_text(edit(init.read_text()))
    with pytest.raises(lifecycle.LifecycleError, match=reason):
        lifecycle.install(folder)
    assert not Extension.objects.filter(name="echo").exists()
    assert not (extensions_dir / "echo").exists()


def test_second_install_of_one_version_is_refused(tmp_path):
    lifecycle.install(build_echo(tmp_path))
    with pytest.raises(lifecycle.LifecycleError, match=r"echo 1\.0\.0 is already installed"):
        lifecycle.install(build_echo(tmp_path / "again"))


def test_unknown_extension_or_version_is_refused(tmp_path):
    with pytest.raises(lifecycle.LifecycleError, match="unknown extension 'nope'"):
        lifecycle.set_enabled("nope", False)
    lifecycle.install(build_echo(tmp_path))
    with pytest.raises(lifecycle.LifecycleError, match=r"no installed version '9\.9'"):
        lifecycle.upgrade("echo", "9.9")


def test_missing_dependency_and_dependency_cycle_are_refused(tmp_path):
    with pytest.raises(
        lifecycle.LifecycleError, match="base requires echo, which is not installed"
    ):
        lifecycle.install(build_echo(tmp_path / "a", name="base", fields="requires={'echo': ''}, "))
    lifecycle.install(build_echo(tmp_path, "1.0.0"))
    lifecycle.install(build_echo(tmp_path, name="base", fields="requires={'echo': '>=1'}, "))
    cyclic = build_echo(tmp_path, "2.0.0", fields="requires={'base': ''}, ")
    with pytest.raises(lifecycle.LifecycleError, match="dependency cycle: echo -> base -> echo"):
        lifecycle.install(cyclic)
    assert list(Extension.objects.get(name="echo").versions.values_list("version", flat=True)) == [
        "1.0.0"
    ]


def test_uninstall_in_use_is_refused_naming_the_workflows(tmp_path):
    from orchestrator.workflows import definitions

    lifecycle.install(build_echo(tmp_path))
    definitions.create_workflow(
        {"name": "echoes", "trigger": {"event": "github.push"},
         "steps": [{"id": "say", "action": "echo.say", "with": {"text": "hi"}}]}
    )  # fmt: skip
    with pytest.raises(lifecycle.LifecycleError, match="used by enabled workflows: echoes"):
        lifecycle.uninstall("echo")
    assert Extension.objects.get(name="echo").removed is False


def test_disabled_extension_steps_fail_fast_with_a_permanent_error(tmp_path):
    from orchestrator.workflows.steps import ExtensionUnavailable, extension_config_for

    lifecycle.install(build_echo(tmp_path))
    lifecycle.set_enabled("echo", False)
    with pytest.raises(ExtensionUnavailable, match="extension echo is disabled"):
        extension_config_for("echo")


def test_command_lists_installs_and_refuses_in_one_line(tmp_path, capsys):
    call_command("extensions", "install", str(build_echo(tmp_path)), "--dry-run")
    assert not Extension.objects.filter(name="echo").exists()
    call_command("extensions", "install", str(build_echo(tmp_path / "b")), "--json")
    call_command("extensions", "list")
    out = capsys.readouterr().out
    assert "echo" in out and "github" in out
    with pytest.raises(CommandError, match="unknown extension 'nope'"):
        call_command("extensions", "enable", "nope")
    call_command("extensions", "uninstall", "echo")
    assert Extension.objects.get(name="echo").removed


def test_wheel_and_sdist_install_as_their_own_versions(tmp_path, extensions_dir):
    from tests.extensions.echo import build_sdist, build_wheel

    assert lifecycle.install(build_wheel(tmp_path, "1.0.0")).message == "installed"
    assert lifecycle.install(build_sdist(tmp_path, "2.0.0")).message == "installed"
    assert sorted(p.name for p in (extensions_dir / "echo").iterdir()) == ["1.0.0", "2.0.0"]
    lifecycle.upgrade("echo", "2.0.0")
    assert registry.get_action("echo.say", "1.0.0").name == "echo.say"
    assert registry.pin("echo.say") == ("echo", "2.0.0")


def test_a_path_that_is_no_package_is_refused_in_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(lifecycle.LifecycleError, match="not a wheel"):
        lifecycle.install(tmp_path / "notes.txt")
    with pytest.raises(lifecycle.LifecycleError, match="no such file or folder"):
        lifecycle.install(tmp_path / "missing.whl")
    with pytest.raises(lifecycle.LifecycleError, match=r"no pyproject\.toml"):
        lifecycle.install(tmp_path)


def stale_view_after_upgrade(tmp_path, name: str, trigger: dict) -> None:
    """echo 1.0.0 and 2.0.0 installed, a workflow `name` using echo.say, then an upgrade to
    2.0.0 by another process, with this process playing one whose view predates it (it
    looked a moment before, and its next look is a poll away)."""
    import time

    from orchestrator.workflows import definitions

    lifecycle.install(build_echo(tmp_path, "1.0.0"))
    lifecycle.install(build_echo(tmp_path, "2.0.0"))
    definitions.create_workflow({
        "name": name,
        "trigger": trigger,
        "steps": [{"id": "say", "action": "echo.say", "with": {"text": "hi"}}],
    })  # fmt: skip
    assert registry.pin("echo.say") == ("echo", "1.0.0")
    before = (registry.view.value, registry.view.generation)
    lifecycle.upgrade("echo", "2.0.0", actor="another process")
    registry.view.value, registry.view.generation = before
    registry.view.next_check = time.monotonic() + 60
    assert registry.pin("echo.say") == ("echo", "1.0.0"), "the stale view, as set up"


def pinned(name: str) -> tuple[str, str]:
    from orchestrator.workflows.models import StepRun

    step = StepRun.objects.get(run__workflow__name=name)
    return step.extension, step.extension_version


def test_an_event_dispatched_after_an_upgrade_pins_the_new_version_whatever_the_poll(tmp_path):
    """A worker whose registry view predates an upgrade still pins the new version for an
    event it dispatches after the upgrade: each dispatch batch checks the generation first."""
    from orchestrator.events.dispatch import dispatch_event
    from orchestrator.events.store import store_payload

    stale_view_after_upgrade(tmp_path, "echo-on-push", {"event": "github.push"})
    stored = store_payload("github", "github.push", "push-after-upgrade", {"ref": "main"})
    dispatch_event(stored.id)
    assert pinned("echo-on-push") == ("echo", "2.0.0")


@pytest.mark.parametrize("entry", ["manual", "schedule"])
def test_a_run_started_by_hand_or_schedule_after_an_upgrade_pins_the_new_version(
    tmp_path, entry, api_client
):
    """The same for runs that start without an event: the API's trigger and a schedule's
    task each check the generation before they pin."""
    from orchestrator.workflows.triggers import run_scheduled

    trigger = {"manual": True} if entry == "manual" else {"schedule": "*/5 * * * *"}
    stale_view_after_upgrade(tmp_path, "echo-by-hand", trigger)
    if entry == "manual":
        assert api_client.post("/api/workflows/echo-by-hand/trigger/").status_code == 201
    else:
        assert run_scheduled("echo-by-hand") is not None
    assert pinned("echo-by-hand") == ("echo", "2.0.0")
