"""Every route refuses anonymous and non-staff users, unless it is public on purpose.

Promise: `/api/`, `/metrics`, the dashboard, its websocket and the admin answer only staff.
The test walks Django's URL resolver and Channels' websocket routes, so a route added later is
checked without anyone remembering to add it here. Public routes are listed with the reason
they are public; anything else that answers an anonymous or non-staff caller fails the test.
"""

import re

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.urls import URLPattern, URLResolver, get_resolver

# Public on purpose, each with its own authentication or none needed.
PUBLIC = {
    r"^$": "redirects to the admin, which asks for a login",
    r"^health": "container probes carry no credentials",
    r"^webhooks/|^[a-z0-9_-]+/events/?$": "authenticated by the platform's signature",
    r"^ofrep/": "checks its own API token (asserted below)",
    r"^admin/login/$|^admin/logout/$": "the login form itself",
    r"^static/": "static assets",
    r"^favicon\.ico$": "the browser's tab icon (a redirect to a static file)",
}
GROUP = re.compile(r"\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)")
CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")
CONVERTED = {"int": "1", "drf_format_suffix": ".json"}
REFUSED = {401, 403}


def concrete_paths(patterns=None, prefix=""):
    """Every route of the resolver as a requestable path, its parameters filled in."""
    patterns = get_resolver().url_patterns if patterns is None else patterns
    for entry in patterns:
        route = prefix + fill(str(entry.pattern))
        if isinstance(entry, URLResolver):
            yield from concrete_paths(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route


def fill(segment: str) -> str:
    """A route segment (path() or regex) with every parameter replaced by a plausible value."""
    segment = GROUP.sub(lambda m: "json" if m.group(1) == "format" else "x1", segment)
    segment = CONVERTER.sub(lambda m: CONVERTED.get(m.group(1), "x1"), segment)
    for token, text in (("^", ""), ("$", ""), ("\\Z", ""), ("/?", "/"), ("\\.", ".")):
        segment = segment.replace(token, text)
    return segment


def is_public(path: str) -> bool:
    return any(re.search(pattern, path) for pattern in PUBLIC)


def protected_paths() -> list[str]:
    paths = sorted({"/" + path for path in concrete_paths() if not is_public(path)})
    assert len(paths) > 50, "the resolver walk found too few routes to mean anything"
    return paths


def refused(response) -> bool:
    """401/403 for the API; the admin and pages redirect to the login form instead."""
    if response.status_code in REFUSED:
        return True
    return response.status_code == 302 and "/login/" in response.get("Location", "")


@pytest.mark.django_db
def test_every_protected_route_refuses_anonymous_callers(client):
    leaks = [p for p in protected_paths() if not refused(client.get(p))]
    assert leaks == [], f"answered an anonymous caller: {leaks}"


@pytest.mark.django_db
def test_every_protected_route_refuses_a_non_staff_token_and_session(client, django_user_model):
    from rest_framework.authtoken.models import Token

    user = django_user_model.objects.create_user("viewer", password="viewer-pass-123")
    token = Token.objects.create(user=user).key
    client.force_login(user)
    leaks = [
        path
        for path in protected_paths()
        if not refused(client.get(path, HTTP_AUTHORIZATION=f"Token {token}"))
    ]
    assert leaks == [], f"answered a non-staff user: {leaks}"


@pytest.mark.django_db
def test_unsafe_api_methods_refuse_anonymous_callers(client):
    api = [p for p in protected_paths() if p.startswith("/api/")]
    leaks = [
        (method, path)
        for path in api
        for method in ("post", "put", "patch", "delete")
        if not refused(getattr(client, method)(path, content_type="application/json"))
    ]
    assert leaks == [], f"an unsafe method answered an anonymous caller: {leaks}"


@pytest.mark.django_db
def test_ofrep_refuses_callers_without_a_token(client):
    for path in ("/ofrep/v1/evaluate/flags", "/ofrep/v1/evaluate/flags/x"):
        response = client.post(path, data={}, content_type="application/json")
        assert response.status_code == 401, path


def websocket_paths() -> list[str]:
    from contexten_site.routing import websocket_urlpatterns

    return ["/" + fill(str(route.pattern)) for route in websocket_urlpatterns]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("staff", [None, False], ids=["anonymous", "non-staff"])
async def test_every_websocket_refuses_anonymous_and_non_staff(staff, django_user_model):
    from asgiref.sync import sync_to_async
    from django.contrib.auth.models import AnonymousUser

    from contexten_site.routing import websocket_urlpatterns

    user = AnonymousUser()
    if staff is False:
        user = await sync_to_async(django_user_model.objects.create_user)("ws-viewer")
    for path in websocket_paths():
        communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
        communicator.scope["user"] = user
        connected, _ = await communicator.connect()
        assert not connected, f"{path} accepted {user}"
        await communicator.disconnect()
