"""REST /api/config/ (SPEC §8): answers, masking, and every refusal changing nothing."""

import pytest

from extensions.config import schemas, store
from extensions.config.models import ConfigVersion

pytestmark = pytest.mark.django_db
URL = "/api/config/core/"


def put(client, data, reason="because", url=URL):
    return client.put(url, {"data": data, "reason": reason}, format="json")


def test_put_answers_the_new_version_and_get_shows_it(api_client):
    answer = put(api_client, {"team": "infra"})
    assert answer.status_code == 200, answer.content
    assert answer.json()["version"] == 1
    assert answer.json()["patch"] == [{"op": "add", "path": "/team", "value": "infra"}]
    body = api_client.get(URL).json()
    assert (body["version"], body["data"]) == (1, {"team": "infra"})
    assert body["effective"]["environment"] == "development"
    row = ConfigVersion.objects.get()
    assert (row.author, row.reason) == ("operator", "because")


def test_secrets_are_write_only_masked_on_every_read(api_client):
    put(api_client, {"secrets": {"hook": "literal-secret"}})
    put(api_client, {"team": "b", "secrets": {"hook": schemas.MASK}})
    reads = [
        api_client.get(URL),
        api_client.get(f"{URL}versions/"),
        api_client.get(f"{URL}diff/?from=0&to=2"),
        api_client.get("/api/config/"),
    ]
    for answer in reads:
        assert answer.status_code == 200
        assert "literal-secret" not in answer.content.decode()
    assert store.stored("core")["secrets"]["hook"] == "literal-secret"


def test_versions_diff_and_rollback(api_client):
    put(api_client, {"team": "a"})
    put(api_client, {"team": "b"}, reason="rename")
    versions = api_client.get(f"{URL}versions/").json()["results"]
    assert [(v["version"], v["reason"]) for v in versions] == [(2, "rename"), (1, "because")]
    diff = api_client.get(f"{URL}diff/?from=1&to=2").json()
    assert diff["patch"] == [{"op": "replace", "path": "/team", "value": "b"}]
    answer = api_client.post(f"{URL}rollback/", {"version": 1}, format="json")
    assert answer.status_code == 200 and answer.json()["version"] == 3
    assert api_client.get(URL).json()["data"] == {"team": "a"}


def test_a_schema_failure_is_a_400_naming_the_json_path_and_changes_nothing(api_client):
    put(api_client, {"team": "a"})
    answer = put(api_client, {"shared": {}, "secrets": {"hook": 5}})
    assert answer.status_code == 400
    assert "$.secrets.hook" in answer.json()["error"]
    assert ConfigVersion.objects.count() == 1


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("get", "/api/config/nope/", None),
        ("put", "/api/config/nope/", {"data": {}}),
        ("get", "/api/config/nope/versions/", None),
        ("get", "/api/config/nope/diff/?from=0&to=1", None),
        ("post", "/api/config/nope/rollback/", {"version": 1}),
        ("get", f"{URL}diff/?from=1&to=9", None),
        ("post", f"{URL}rollback/", {"version": 9}),
    ],
)
def test_unknown_namespaces_and_versions_are_404s_in_the_error_shape(api_client, method, url, body):
    put(api_client, {"team": "a"})
    answer = getattr(api_client, method)(url, body, format="json") if body else api_client.get(url)
    assert answer.status_code == 404, answer.content
    assert answer.json()["error"]
    assert ConfigVersion.objects.count() == 1


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (f"{URL}diff/?from=1", None),
        (URL, {"reason": "no data"}),
        (f"{URL}rollback/", {"version": "two"}),
    ],
)
def test_malformed_requests_are_400s(api_client, url, body):
    put(api_client, {"team": "a"})
    if body is None:
        answer = api_client.get(url)
    elif url == URL:
        answer = api_client.put(url, body, format="json")
    else:
        answer = api_client.post(url, body, format="json")
    assert answer.status_code == 400 and answer.json()["error"]
    assert ConfigVersion.objects.count() == 1


def test_an_unset_reference_is_stored_and_answered_with_a_warning(api_client, monkeypatch):
    monkeypatch.delenv("CTX_TEST_MISSING", raising=False)
    answer = put(api_client, {"secrets": {"hook": "env:CTX_TEST_MISSING"}})
    assert answer.status_code == 200
    assert answer.json()["warnings"] == [
        "config.core.secrets.hook refers to env:CTX_TEST_MISSING, which is not set in this process"
    ]


def test_only_staff_may_read_or_change(client, django_user_model):
    assert client.get(URL).status_code in (401, 403)
    client.force_login(django_user_model.objects.create_user("viewer", password="viewer-pass-1"))
    assert client.get(URL).status_code == 403


def test_the_openapi_schema_documents_config_with_its_error_answers(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    put_answers = schema["paths"]["/api/config/{namespace}/"]["put"]["responses"]
    assert {"200", "400", "404"} <= set(put_answers)
    assert "/api/config/{namespace}/diff/" in schema["paths"]
    assert "/api/config/{namespace}/rollback/" in schema["paths"]
