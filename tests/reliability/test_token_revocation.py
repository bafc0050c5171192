"""Revoking an API token takes effect on every web process within a poll (the 1 s promise).

Served stack, two uvicorn processes. Keep-alive connections are opened until both processes
hold some (which process accepted each one is read from the kernel's socket table, `ss -p`),
and OFREP evaluations on every connection warm both processes' token caches, so the fast
path answers from cache. The test process then deletes one token and deactivates the other
token's user, as an operator would. After TOKEN_CACHE_POLL_MS (read from settings) plus a
margin, the very next request on every connection is refused: 401 for the deleted token,
403 for the inactive user. Without the generation check the caches would answer 200.
"""

import http.client
import json
import re
import subprocess
import time

import pytest
from django.conf import settings
from rest_framework.authtoken.models import Token

from orchestrator.flags.services import Actor, save_flag
from tests.conftest import free_port, start_served, wait_for_http

URL = "/ofrep/v1/evaluate/flags/revocation-probe"
BODY = {"context": {"targetingKey": "user-1"}}
MARGIN_S = 0.5


def server_pid(port: int, client_port: int) -> int | None:
    """The pid of the process that accepted the connection from `client_port`."""
    listing = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} and dport = :{client_port} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.search(r"pid=(\d+)", listing)
    return int(found.group(1)) if found else None


class Connection:
    """One keep-alive HTTP/1.1 connection sending OFREP evaluations with one token."""

    def __init__(self, port: int, token: str):
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def evaluate(self) -> int:
        self.http.request("POST", URL, json.dumps(BODY), self.headers)
        answer = self.http.getresponse()
        answer.read()
        return answer.status


def connect(port: int, token: str) -> tuple[Connection, int]:
    connection = Connection(port, token)
    assert connection.evaluate() == 200  # opens (and keeps) the connection
    pid = server_pid(port, connection.http.sock.getsockname()[1])
    assert pid is not None
    return connection, pid


def connections_on_both(port: int, token: str) -> list[tuple[Connection, int]]:
    """Keep-alive connections until each of the two web processes holds at least two."""
    clients = []
    for _ in range(200):
        clients.append(connect(port, token))
        pids = [pid for _, pid in clients]
        if len(set(pids)) == 2 and all(pids.count(pid) >= 2 for pid in set(pids)):
            return clients
    raise AssertionError(f"200 connections all reached {set(pids)}")


@pytest.fixture
def two_web_processes(subprocess_env):
    env = {**subprocess_env, "WEB_CONCURRENCY": "2", "WORKFLOW_RUNNERS": "1", "Q_WORKERS": "1"}
    port = free_port()
    process = start_served(env, port)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/health/live", timeout_s=150, process=process)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_revoked_token_and_a_deactivated_user_fail_on_every_process(
    two_web_processes, django_user_model
):
    port = two_web_processes
    save_flag({"key": "revocation-probe", "enabled": True}, actor=Actor("test"))
    deleted_user = django_user_model.objects.create_user("deleted-token", is_staff=True)
    inactive_user = django_user_model.objects.create_user("deactivated", is_staff=True)
    deleted = Token.objects.create(user=deleted_user).key
    inactive = Token.objects.create(user=inactive_user).key

    groups = {deleted: connections_on_both(port, deleted)}
    groups[inactive] = connections_on_both(port, inactive)
    for clients in groups.values():  # warm: every connection answers from its process's cache
        for client, _ in clients:
            for _ in range(5):
                assert client.evaluate() == 200

    Token.objects.filter(key=deleted).delete()
    inactive_user.is_active = False
    inactive_user.save()
    time.sleep(settings.TOKEN_CACHE_POLL_SECONDS + MARGIN_S)  # not an assertion: the bound

    answers = {
        token: [(pid, client.evaluate()) for client, pid in clients]
        for token, clients in groups.items()
    }
    assert {status for _, status in answers[deleted]} == {401}, answers[deleted]
    assert {status for _, status in answers[inactive]} == {403}, answers[inactive]
    assert len({pid for pid, _ in answers[deleted]}) == 2  # both processes were asked
    for clients in groups.values():
        for client, _ in clients:
            client.http.close()
