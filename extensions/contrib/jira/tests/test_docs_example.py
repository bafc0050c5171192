"""docs/extensions.md's worked example works as written: its code is extracted from the page."""

import asyncio
import hashlib
import hmac
import importlib
import json
import sys

import pytest
from docs_example import example_files, write_example
from extensions.api import ActionContext, ActionError, Extension, Refusal


@pytest.fixture
def beacon(tmp_path):
    """The example package, imported from a temporary folder written from the page."""
    source = write_example(tmp_path / "beacon")
    sys.path.insert(0, str(source))
    try:
        yield importlib.import_module("beacon_ext")
    finally:
        sys.path.remove(str(source))
        for name in [m for m in sys.modules if m == "beacon_ext" or m.startswith("beacon_ext.")]:
            del sys.modules[name]


def test_the_page_holds_every_file_of_the_example():
    assert set(example_files()) == {
        "pyproject.toml",
        "beacon_ext/__init__.py",
        "beacon_ext/actions.py",
        "beacon_ext/webhook.py",
        "beacon_ext/health.py",
        "workflow.yaml",
    }


def test_the_manifest_is_valid_and_names_what_the_page_says(beacon):
    manifest = beacon.extension
    assert isinstance(manifest, Extension)
    manifest.validate()
    assert (manifest.name, manifest.version) == ("beacon", "1.0.0")
    assert [spec.name for spec in manifest.actions] == ["beacon.announce"]
    assert manifest.config_schema["properties"]["signing_secret"]["writeOnly"] is True


def run(spec, params: dict, config: dict):
    context = ActionContext(
        run_id=1, step_id="announce", attempt=1, idempotency_key="1-a", config=config,
        extension="beacon", extension_version="1.0.0",
    )  # fmt: skip
    return asyncio.run(spec.handler(spec.input_model.model_validate(params), context))


def test_the_action_answers_what_the_page_says(beacon):
    [announce] = beacon.extension.actions
    out = run(announce, {"message": "API down"}, {"prefix": "[beacon] "})
    assert out == {"text": "[beacon] API down", "version": "1.0.0"}


def test_the_action_fails_permanently_when_told_to(beacon):
    [announce] = beacon.extension.actions
    with pytest.raises(ActionError) as caught:
        run(announce, {"message": "fail"}, {})
    assert caught.value.permanent


def test_the_receiver_verifies_hmac_and_names_the_event(beacon):
    receiver = beacon.extension.webhook
    body = json.dumps({"event": "incident.opened", "title": "API down"}).encode()
    signed = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    headers = {"x-beacon-delivery": "d-1", "x-beacon-signature": signed}
    receiver.check_headers(headers)
    receiver.verify(headers, body, "s3cret", 0)
    delivery = receiver.parse(headers, body, verified=True, now=0)
    assert (delivery.type, delivery.delivery_id) == ("beacon.incident.opened", "d-1")
    with pytest.raises(Refusal) as caught:
        receiver.verify(headers, body, "other", 0)
    assert (caught.value.status, caught.value.slug) == (401, "invalid-signature")


def test_a_second_version_differs_only_in_its_version(tmp_path):
    write_example(tmp_path / "v2", version="2.0.0")
    text = (tmp_path / "v2" / "beacon_ext" / "__init__.py").read_text()
    assert 'version="2.0.0"' in text
    assert 'version = "2.0.0"' in (tmp_path / "v2" / "pyproject.toml").read_text()


@pytest.mark.django_db(transaction=True)
def test_the_page_example_installs_in_two_versions_receives_and_hot_swaps(
    api_client, client, settings, tmp_path
):
    from django.core.management import call_command
    from extensions import registry

    settings.EXTENSIONS_DIR = tmp_path / "extensions"
    settings.WEBHOOK_ALLOW_UNSIGNED = []
    call_command("extensions", "install", str(write_example(tmp_path / "v1")))
    call_command("extensions", "install", str(write_example(tmp_path / "v2", version="2.0.0")))
    saved = api_client.put("/api/config/beacon/", {"data": {"signing_secret": "s3cret"},
                           "reason": "docs example"}, format="json")  # fmt: skip
    assert saved.status_code == 200, saved.content

    # The receiver reads its secret from the configuration, as the page shows.
    body = json.dumps({"event": "incident.opened", "title": "API down"}).encode()
    signed = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    headers = {"HTTP_X_BEACON_DELIVERY": "d-1", "HTTP_X_BEACON_SIGNATURE": signed}
    answer = client.generic(
        "POST", "/webhooks/beacon/", body, content_type="application/json", **headers
    )
    assert answer.status_code == 202, answer.content
    workflow = example_files()["workflow.yaml"]
    created = api_client.generic("POST", "/api/workflows/", workflow,
                                 content_type="application/yaml")  # fmt: skip
    assert created.status_code == 201, created.content

    swapped = api_client.post("/api/extensions/beacon/upgrade/", {"version": "2.0.0"},
                              format="json")  # fmt: skip
    assert swapped.json()["message"] == "switched 1.0.0 -> 2.0.0"
    detail = api_client.get("/api/extensions/beacon/").json()
    assert (detail["active_version"], detail["installed_versions"]) == ("2.0.0", ["1.0.0", "2.0.0"])
    assert detail["actions"] == ["beacon.announce"]
    assert detail["health"]["beacon:config"][0]["status"] == "pass"

    # Both versions' code is loaded side by side, each under its own module names.
    old, new = (registry.get_action("beacon.announce", v) for v in ("1.0.0", "2.0.0"))
    assert old.handler.__module__ != new.handler.__module__
    assert run(new, {"message": "x"}, {"prefix": "> "})["text"] == "> x"
    refused = api_client.delete("/api/extensions/beacon/")
    assert refused.status_code == 409 and "beacon-incidents" in refused.json()["error"]
