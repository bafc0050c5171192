"""Schemathesis against the served API: the schema tells the whole truth.

Promise: every answer of every `/api/` operation is documented in `/api/schema/` (status code
and body shape, errors included), and no generated input, valid or not, produces a server
error. Run with the default generators in all four phases (examples, coverage, fuzzing,
stateful), at least 25 examples per operation, against real processes (`manage.py serve`).
The seed is fixed so CI is reproducible; `SCHEMATHESIS_SEED` explores another corner.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BASE_DIR, free_port, wait_for_http

CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance"


@pytest.fixture
def seeded_api(subprocess_env, api_token, tmp_path):
    """A served stack with the demo's workflows, flags and events to act on. Its output goes
    to a file: a few thousand requests' access log would fill a pipe and stall the server."""
    from orchestrator.core.demo import seed_demo

    seed_demo()
    port = free_port()
    with (tmp_path / "serve.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port)],
            cwd=BASE_DIR, env=subprocess_env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health/live", process=process)
        yield f"http://127.0.0.1:{port}", api_token
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_schemathesis_finds_no_failure_in_any_phase(seeded_api, tmp_path):
    base_url, token = seeded_api
    command = [
        str(Path(sys.executable).with_name("st")), "run", f"{base_url}/api/schema/",
        "--header", f"Authorization: Token {token}",
        "--checks", CHECKS,
        "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", "25",
        "--seed", os.environ.get("SCHEMATHESIS_SEED", "20261201"),
        "--generation-database", "none",
        "--wait-for-schema", "30",
        "--report-dir", str(tmp_path),
    ]  # fmt: skip
    result = subprocess.run(  # in tmp_path: schemathesis writes a cache where it runs
        command, cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False
    )
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failures" not in result.stdout.splitlines()[-1]
