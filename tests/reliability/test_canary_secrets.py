"""Secrets never appear in any output: canaries are planted, then every output is grepped.

Planted: the webhook secrets and platform tokens (settings, as the environment gives them),
the configuration store's `writeOnly` fields (literal values and `env:` references), an API
token's key, METRICS_TOKEN, SECRET_KEY and a password tried at the login form. Then the
control plane is used (signed and forged webhooks, OFREP with the token, a failed login, a
configuration change) and every output is searched for every canary: each GET route of the
API (the URL resolver walked, detail routes filled from the list answers), every admin
changelist and a change page of each, the dashboard page and its websocket's first snapshot,
/metrics, /api/health/, a `manage.py backup` file, and the logs. A second test does the same
against a served stack and greps its stdout and stderr.
"""

import io
import json
import re
import uuid

import httpx
import pytest
from channels.testing import WebsocketCommunicator
from django.contrib import admin
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from orchestrator.health.dashboard import DashboardConsumer
from tests.conftest import free_port, start_served, wait_for_http
from tests.integrations.webhooks import compact, hmac_hex


def canary(name: str) -> str:
    return f"cnry-{name}-{uuid.uuid4().hex[:16]}"


SETTINGS = ["GITHUB_WEBHOOK_SECRET", "LINEAR_WEBHOOK_SECRET", "SLACK_SIGNING_SECRET"]
SETTINGS += ["GITHUB_TOKEN", "LINEAR_API_KEY", "SLACK_BOT_TOKEN", "METRICS_TOKEN"]
ENV = ["JIRA_API_TOKEN", "JIRA_WEBHOOK_SECRET"]  # read through config.jira's env: defaults


@pytest.fixture
def canaries(settings, monkeypatch):
    planted = {name: canary(name.lower()) for name in SETTINGS + ENV}
    for name in SETTINGS:
        setattr(settings, name, planted[name])
    for name in ENV:
        monkeypatch.setenv(name, planted[name])
    planted["SECRET_KEY"] = settings.SECRET_KEY = canary("secret-key") + "x" * 20
    planted["password"] = canary("password")
    planted["config-api-token"] = canary("config-api-token")
    planted["config-webhook-secret"] = canary("config-webhook-secret")
    planted["api-token"] = uuid.uuid4().hex[:8] + "cnrytoken" + uuid.uuid4().hex[:23]
    return planted


def leaks(text: str, planted: dict) -> list[str]:
    return [name for name, value in planted.items() if value in text]


# --- walking the API -----------------------------------------------------------------------
PARAM = re.compile(r"\(\?P<\w+>(?:[^()]|\([^()]*\))*\)|<(?:\w+:)?\w+>")


def templates(patterns=None, prefix=""):
    """Every route as a template with `{}` for each parameter (format suffixes left out)."""
    patterns = get_resolver().url_patterns if patterns is None else patterns
    for entry in patterns:
        segment = str(entry.pattern)
        if "format" in segment:
            continue
        segment = PARAM.sub("{}", segment)
        for token, text in (("^", ""), ("$", ""), ("\\Z", ""), ("/?", "/"), ("\\.", ".")):
            segment = segment.replace(token, text)
        if isinstance(entry, URLResolver):
            yield from templates(entry.url_patterns, prefix + segment)
        elif isinstance(entry, URLPattern):
            yield prefix + segment


def identifiers(answer: dict | list) -> list[str]:
    items = answer.get("results", answer) if isinstance(answer, dict) else answer
    found = []
    for item in items[:3] if isinstance(items, list) else []:
        for field in ("id", "key", "name", "namespace"):
            if isinstance(item, dict) and item.get(field) is not None:
                found.append(str(item[field]))
    return found


def api_outputs(client: APIClient) -> dict[str, str]:
    """GET every API route: lists first, then each detail route filled from its list."""
    api = sorted({"/" + t for t in templates() if t.startswith("api/")})
    answers, lists = {}, {}
    for template in [t for t in api if "{}" not in t]:
        response = client.get(template)
        answers[template] = response.content.decode(errors="replace")
        if response.get("Content-Type", "").startswith("application/json"):
            lists[template] = identifiers(response.json())
    for template in [t for t in api if "{}" in t]:
        base = template[: template.index("{}")]
        for value in lists.get(base, ["x1"]):
            path = template.replace("{}", value, 1).replace("{}", "x1")
            answers[path] = client.get(path).content.decode(errors="replace")
    assert len(answers) > 40, "the API walk found too few routes to mean anything"
    return answers


def admin_outputs(client: Client, user) -> dict[str, str]:
    """Every admin changelist, and the change page of its first row."""
    request = RequestFactory().get("/admin/")
    request.user = user
    answers = {}
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        answers[url] = client.get(url).content.decode(errors="replace")
        first = model_admin.get_queryset(request).first()
        if first is not None:  # the row's own link (the token admin links rows by user)
            change = model_admin.get_changelist_instance(request).url_for_result(first)
            answers[change] = client.get(change).content.decode(errors="replace")
    assert len(answers) > 20, "the admin walk found too few pages to mean anything"
    return answers


# --- using the control plane ----------------------------------------------------------------
def github_delivery(secret: str) -> tuple[bytes, dict]:
    body = compact({"action": "opened", "issue": {"number": 1, "title": "t"}})
    headers = {
        "X-GitHub-Event": "issues",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": "sha256=" + hmac_hex(secret, body),
        "Content-Type": "application/json",
    }
    return body, headers


def exercise(send, planted: dict) -> list[str]:
    """Use every door once with the canaries in play; answer the bodies seen."""
    seen = []
    for secret in (planted["GITHUB_WEBHOOK_SECRET"], "forged-secret"):
        body, headers = github_delivery(secret)
        seen.append(send("post", "/webhooks/github/", content=body, headers=headers))
    ofrep_body = json.dumps({"context": {"targetingKey": "u1"}}).encode()
    # A wrong token of the same shape ("x" is not hex, so it can never equal the real one).
    for token in (planted["api-token"], planted["api-token"][:-1] + "x"):
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        seen.append(send("post", "/ofrep/v1/evaluate/flags", content=ofrep_body, headers=auth))
    login = {"username": "operator", "password": planted["password"]}
    seen.append(send("post", "/admin/login/", data=login))
    seen.append(
        send("get", "/metrics", headers={"Authorization": f"Bearer {planted['METRICS_TOKEN']}"})
    )
    seen.append(send("get", "/health/ready"))
    return seen


@pytest.mark.django_db(transaction=True)
def test_no_output_holds_a_planted_secret(canaries, staff_user, caplog, tmp_path):
    caplog.set_level("DEBUG")
    Token.objects.create(user=staff_user, key=canaries["api-token"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {canaries['api-token']}")
    jira = {"api_token": canaries["config-api-token"], "webhook_secret": "env:JIRA_WEBHOOK_SECRET"}
    for _ in range(2):  # an env: reference, then a literal value: two versions
        saved = api.put("/api/config/jira/", {"data": jira, "reason": "r"}, format="json")
        assert saved.status_code == 200, saved.content
        jira = {**jira, "webhook_secret": canaries["config-webhook-secret"]}
    flag = {"key": "canary-flag", "enabled": True}
    assert api.post("/api/flags/", flag, format="json").status_code == 201

    anonymous = Client()

    def send(method, path, content=None, headers=None, data=None):
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
        if content is not None:
            return getattr(anonymous, method)(
                path, content, extra.pop("HTTP_CONTENT_TYPE"), **extra
            )
        return getattr(anonymous, method)(path, data or {}, **extra)

    outputs = {
        f"door {n}": r.content.decode(errors="replace")
        for n, r in enumerate(exercise(send, canaries))
    }
    outputs.update(api_outputs(api))

    browser = Client()
    browser.force_login(staff_user)
    outputs.update(admin_outputs(browser, staff_user))
    for path in ("/dashboard/", "/metrics", "/api/health/"):
        outputs[path] = browser.get(path).content.decode(errors="replace")
    outputs["websocket"] = json.dumps(first_snapshot(staff_user))
    backup = tmp_path / "backup.json"
    call_command("backup", str(backup), stdout=io.StringIO())
    outputs["backup"] = backup.read_text()
    outputs["logs"] = caplog.text

    found = {where: leaks(text, canaries) for where, text in outputs.items()}
    assert {where: names for where, names in found.items() if names} == {}


def first_snapshot(user) -> dict:
    import asyncio

    async def receive():
        communicator = WebsocketCommunicator(DashboardConsumer.as_asgi(), "/ws/dashboard/")
        communicator.scope["user"] = user
        connected, _ = await communicator.connect()
        assert connected
        messages = [await communicator.receive_json_from(timeout=10) for _ in range(2)]
        await communicator.disconnect()
        return messages

    return asyncio.run(receive())


def test_a_served_stack_logs_and_answers_no_planted_secret(subprocess_env, canaries, staff_user):
    from django.conf import settings

    Token.objects.create(user=staff_user, key=canaries["api-token"])
    env = {**subprocess_env, "WEB_CONCURRENCY": "1", "WORKFLOW_RUNNERS": "1", "LOG_LEVEL": "DEBUG"}
    env.update({name: canaries[name] for name in SETTINGS + ENV})
    env["SECRET_KEY"] = settings.SECRET_KEY
    port = free_port()
    process = start_served(env, port)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/health/live", timeout_s=150, process=process)
        with httpx.Client(base_url=base, timeout=30) as http:
            seen = exercise(lambda method, path, **kw: getattr(http, method)(path, **kw), canaries)
        bodies = [answer.text for answer in seen]
        assert [answer.status_code for answer in seen][:4] == [202, 401, 200, 401]
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    found = {"answers": leaks("\n".join(bodies), canaries), "output": leaks(output, canaries)}
    assert found == {"answers": [], "output": []}
    assert "webhook.invalid-signature" in output  # the log was captured, not empty


@pytest.mark.django_db
def test_the_admin_shows_a_new_token_once_and_revokes_from_the_users_list(staff_user):
    browser = Client()
    browser.force_login(staff_user)
    made = browser.post("/admin/core/apitoken/add/", {"user": staff_user.pk}, follow=True)
    key = Token.objects.get(user=staff_user).key
    assert key in made.content.decode()  # once, in the message after adding
    assert key not in browser.get("/admin/core/apitoken/").content.decode()
    action = {"action": "revoke_api_tokens", "_selected_action": [staff_user.pk]}
    assert browser.post("/admin/auth/user/", action).status_code == 302
    assert not Token.objects.exists()
