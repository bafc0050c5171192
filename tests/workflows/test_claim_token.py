"""A claim token fits its column whatever the hostname (a long FQDN broke claims)."""

import socket

import pytest

from orchestrator.workflows import engine, runner, steps
from orchestrator.workflows.models import StepRun, Workflow

LONG_FQDN = ".".join(["a-rather-long-kubernetes-pod-name-0123456789"] * 5)[:200]
pytestmark = pytest.mark.django_db


def test_a_200_character_hostname_still_claims_and_records(monkeypatch, save_workflow):
    assert len(LONG_FQDN) == 200
    monkeypatch.setattr(socket, "gethostname", lambda: LONG_FQDN)
    step = {"id": "a", "action": "core.log", "with": {"message": "x"}}
    save_workflow({"name": "w", "trigger": {"manual": True}, "steps": [step]})
    engine.create_run(Workflow.objects.get(), trigger="manual")
    runner_id = runner.runner_id()
    [job], decided = steps.claim(10, runner_id)
    assert decided == []
    step = StepRun.objects.get()
    assert step.claimed_by == job.token and len(job.token) <= 64
    assert steps.record([steps.Outcome(job.step_run_id, job.token, "ok", output={})]) == 1
    assert StepRun.objects.get().status == "succeeded"


def test_runner_ids_are_bounded_and_tell_hosts_apart(monkeypatch):
    ids = set()
    for host in (LONG_FQDN, LONG_FQDN[:-1] + "b", "worker-1", ""):
        monkeypatch.setattr(socket, "gethostname", lambda host=host: host)
        runner_id = runner.runner_id()
        assert len(runner_id) <= 38, runner_id
        ids.add(runner_id.rsplit("-", 2)[0])  # the host part: name and hash
    assert len(ids) == 4, "two FQDNs that differ only at the end still differ"
