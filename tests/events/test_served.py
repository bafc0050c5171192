"""End to end on the real server: uvicorn takes the webhook, a real qcluster dispatches it."""

import http.client
import time
import urllib.error
import urllib.request

import pytest

from orchestrator.events.models import Event, Status
from tests.conftest import free_port, start_served, wait_for_http
from tests.integrations.webhooks import GITHUB_SECRET, compact, github_headers, load

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(subprocess_env):
    env = {**subprocess_env, "GITHUB_WEBHOOK_SECRET": GITHUB_SECRET, "WEBHOOK_MAX_BYTES": "100000"}
    port = free_port()
    process = start_served(env, port)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health/live", process=process)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def post(port: int, body: bytes, headers: dict) -> tuple[int, bytes]:
    wire = {name[5:].replace("_", "-"): value for name, value in headers.items()}
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/github/",
        data=body,
        headers={**wire, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_webhook_is_stored_and_dispatched_by_the_served_stack(server):
    """Dispatched by a worker or a dispatcher (attempts 1), or, on Postgres with Redis,
    planned where it was stored (no workflow matches it: `done` at once, attempts 0)."""
    body = compact(load("github", "pull_request__opened"))
    status, _ = post(server, body, github_headers("pull_request", body, delivery="e2e-1"))
    assert status == 202
    deadline = time.monotonic() + 30
    event = Event.objects.get(delivery_id="e2e-1")
    while time.monotonic() < deadline and event.status == Status.RECEIVED:
        time.sleep(0.2)
        event.refresh_from_db()
    assert event.status == Status.DONE, "nothing dispatched the event"
    assert event.finished_at is not None


def test_real_server_refuses_oversized_chunked_body_and_bad_signature(server):
    assert send_chunked(server, compact({"padding": "x" * 300_000})) == 413
    body = compact(load("github", "ping__default"))
    status, reply = post(server, body, github_headers("ping", body, secret="wrong"))
    assert status == 401
    assert b"signature" in reply
    assert not Event.objects.exists()


def send_chunked(port: int, body: bytes) -> int:
    """POST with Transfer-Encoding: chunked and no Content-Length; return the status."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {name[5:].replace("_", "-"): v for name, v in github_headers("push", body).items()}
    connection.putrequest("POST", "/webhooks/github/")
    for name, value in {**headers, "Content-Type": "application/json"}.items():
        connection.putheader(name, value)
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    try:
        for start in range(0, len(body), 16_384):
            chunk = body[start : start + 16_384]
            connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        connection.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may answer and close before the client finishes sending
    return connection.getresponse().status
