"""Workflow templates see config.<namespace>.<field>, resolved when the step is prepared."""

import pytest

from extensions.config import store
from orchestrator.workflows import definitions, dsl, engine, steps

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_plans():
    engine.plan_for.cache_clear()
    yield
    engine.plan_for.cache_clear()


def prepared(message: str, vars: dict | None = None) -> tuple[list, list]:
    """Start a one-step run logging `message` and claim its step as a runner would."""
    document = {
        "name": "greet",
        "trigger": {"manual": True},
        "steps": [{"id": "say", "action": "core.log", "with": {"message": message}}],
    }
    if vars is not None:
        document["vars"] = vars
    workflow = definitions.create_workflow(document)
    engine.create_run(workflow, trigger="manual")
    return steps.claim(10, "test")


def test_a_step_renders_config_and_sees_a_change_at_once():
    store.save("core", {"shared": {"greeting": "hello"}}, author="t")
    [job], _ = prepared("{{ config.core.shared.greeting }} from {{ config.core.environment }}")
    assert job.params == {"message": "hello from development"}


def test_workflow_values_are_vars_and_config_is_the_store():
    store.save("core", {"team": "infra"}, author="t")
    [job], _ = prepared("{{ vars.owner }}/{{ config.core.team }}", vars={"owner": "ops"})
    assert job.params == {"message": "ops/infra"}


def test_an_unset_reference_fails_the_step_naming_the_variable(monkeypatch):
    monkeypatch.delenv("CTX_TEST_UNSET", raising=False)
    store.save("core", {"secrets": {"hook": "env:CTX_TEST_UNSET"}}, author="t")
    jobs, [decided] = prepared("{{ config.core.secrets.hook }}")
    assert jobs == [] and decided.kind == "error" and decided.permanent
    assert "config.core.secrets.hook refers to env:CTX_TEST_UNSET, which is not set" in (
        decided.error
    )


def test_a_set_reference_renders_its_value(monkeypatch):
    monkeypatch.setenv("CTX_TEST_HOOK", "tok-123")
    store.save("core", {"secrets": {"hook": "env:CTX_TEST_HOOK"}}, author="t")
    [job], _ = prepared("Bearer {{ config.core.secrets.hook }}")
    assert job.params == {"message": "Bearer tok-123"}


def test_an_unknown_namespace_fails_the_step_with_a_hint_about_vars():
    _, [decided] = prepared("{{ config.repos }}")
    assert "no configuration namespace 'repos'" in decided.error
    assert "vars.repos" in decided.error


def test_a_new_document_with_its_own_config_block_is_refused_toward_vars():
    with pytest.raises(dsl.InvalidWorkflow, match="now `vars`"):
        dsl.validate(
            {
                "name": "x",
                "trigger": {"manual": True},
                "config": {},
                "steps": [{"id": "a", "action": "core.log"}],
            }
        )


def test_a_version_stored_before_vars_reads_its_config_block_as_vars():
    legacy = {"name": "x", "config": {"repos": ["a/b"]}, "trigger": {"manual": True}}
    assert dsl.from_stored(legacy) == {
        "name": "x",
        "vars": {"repos": ["a/b"]},
        "trigger": {"manual": True},
    }
