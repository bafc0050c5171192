"""The store: validated, versioned, diffable, reversible; references and secrets."""

import jsonpatch
import pytest

from extensions.config import schemas, store
from extensions.config.models import ConfigDocument, ConfigVersion

pytestmark = pytest.mark.django_db


def save(data, reason="test"):
    return store.save("core", data, author="tester", reason=reason)


def test_each_change_is_a_version_with_author_reason_and_the_current_pointer():
    first = save({"team": "platform"}, reason="name the team")
    second = save({"team": "infra"})
    assert (first.version, second.version) == (1, 2)
    document = ConfigDocument.objects.select_related("current").get(namespace="core")
    assert document.current.version == 2 and document.current.data == {"team": "infra"}
    row = document.versions.get(version=1)
    assert (row.author, row.reason, row.action) == ("tester", "name the team", "set")
    assert row.created_at is not None


def test_resolved_fills_schema_defaults_under_the_stored_document():
    save({"team": "infra"})
    assert store.resolved("core") == {
        "environment": "development",
        "team": "infra",
        "shared": {},
        "secrets": {},
    }


def test_a_schema_failure_names_the_json_path_and_stores_nothing():
    save({"shared": {"greeting": "hi"}})
    with pytest.raises(store.InvalidConfig, match=r"core \$\.secrets\.token: 5 is not of type"):
        save({"secrets": {"token": 5}})
    with pytest.raises(store.InvalidConfig, match=r"\$: Additional properties .*'tema'"):
        save({"tema": "typo"})
    with pytest.raises(store.InvalidConfig, match="must be a JSON object"):
        save(["not", "an", "object"])
    assert ConfigVersion.objects.count() == 1
    assert store.stored("core") == {"shared": {"greeting": "hi"}}


def test_an_unknown_namespace_is_refused_and_creates_nothing():
    with pytest.raises(store.UnknownNamespace, match="no configuration namespace 'nope'"):
        store.save("nope", {}, author="tester")
    with pytest.raises(store.UnknownNamespace):
        store.resolved("nope")
    assert not ConfigDocument.objects.exists()


def test_any_two_versions_diff_as_a_json_patch_that_applies():
    one = {"team": "a", "shared": {"region": "eu", "tier": 1}}
    two = {"team": "b", "shared": {"region": "eu", "owners": ["x"]}}
    save(one)
    save(two)
    patch = store.diff("core", 1, 2)
    assert jsonpatch.apply_patch(one, patch) == two
    assert {op["op"] for op in patch} >= {"replace", "remove", "add"}
    assert jsonpatch.apply_patch({}, store.diff("core", 0, 1)) == one


def test_diff_of_an_unknown_version_is_refused():
    save({"team": "a"})
    with pytest.raises(store.UnknownVersion, match="has no version 7"):
        store.diff("core", 1, 7)


def test_rollback_restores_an_old_version_as_a_new_one():
    save({"team": "a"})
    save({"team": "b"})
    saved = store.rollback("core", 1, author="tester", reason="b was wrong")
    assert saved.version == 3 and store.stored("core") == {"team": "a"}
    row = ConfigVersion.objects.get(version=3)
    assert (row.action, row.restored_from, row.reason) == ("rollback", 1, "b was wrong")


def test_rollback_to_a_missing_version_changes_nothing():
    save({"team": "a"})
    with pytest.raises(store.UnknownVersion, match="'core' has no version 9"):
        store.rollback("core", 9, author="tester")
    assert ConfigVersion.objects.count() == 1


def test_an_unset_reference_is_stored_with_a_warning_naming_it_and_fails_its_use(monkeypatch):
    monkeypatch.delenv("CTX_TEST_DEPLOY_TOKEN", raising=False)
    saved = save({"secrets": {"deploy": "env:CTX_TEST_DEPLOY_TOKEN"}})
    assert saved.warnings == [
        "config.core.secrets.deploy refers to env:CTX_TEST_DEPLOY_TOKEN,"
        " which is not set in this process"
    ]
    with pytest.raises(store.UnsetReference, match="env:CTX_TEST_DEPLOY_TOKEN, which is not set"):
        store.resolved("core")
    monkeypatch.setenv("CTX_TEST_DEPLOY_TOKEN", "s3cret")
    assert store.resolved("core")["secrets"] == {"deploy": "s3cret"}


def test_write_only_fields_are_masked_and_the_mask_sent_back_keeps_the_secret():
    saved = save({"team": "a", "secrets": {"hook": "literal-secret", "ref": "env:HOOK"}})
    assert saved.data["secrets"] == {"hook": schemas.MASK, "ref": "env:HOOK"}
    save({"team": "b", "secrets": {"hook": schemas.MASK, "ref": "env:HOOK"}})
    assert store.stored("core")["secrets"]["hook"] == "literal-secret"
    assert "literal-secret" not in str(store.diff("core", 0, 2))
    assert "literal-secret" not in str(store.export())
    assert store.export()["core"] == {
        "version": 2,
        "data": {"team": "b", "secrets": {"hook": schemas.MASK, "ref": "env:HOOK"}},
    }


def test_mask_follows_properties_items_and_additional_properties():
    schema = {
        "type": "object",
        "properties": {
            "token": {"type": "string", "writeOnly": True},
            "hooks": {"type": "array", "items": {"properties": {"key": {"writeOnly": True}}}},
        },
        "additionalProperties": {"properties": {"pw": {"writeOnly": True}}},
    }
    value = {"token": "t", "hooks": [{"key": "k", "url": "u"}], "db": {"pw": "p", "host": "h"}}
    assert schemas.mask(schema, value) == {
        "token": schemas.MASK,
        "hooks": [{"key": schemas.MASK, "url": "u"}],
        "db": {"pw": schemas.MASK, "host": "h"},
    }


def test_preview_validates_and_writes_nothing():
    preview = store.preview("core", {"team": "x"})
    assert preview.patch == [{"op": "add", "path": "/team", "value": "x"}]
    assert not ConfigVersion.objects.exists()


def test_each_change_is_logged_with_its_patch_and_secrets_masked(caplog):
    with caplog.at_level("INFO", logger="contexten.config"):
        save({"team": "a", "secrets": {"hook": "literal-secret"}})
    [line] = [r.getMessage() for r in caplog.records if r.name == "contexten.config"]
    assert line.startswith("config.changed namespace=core version=1 author=tester")
    assert "/team" in line and "literal-secret" not in line and schemas.MASK in line
