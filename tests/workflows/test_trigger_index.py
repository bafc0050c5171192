"""Trigger matching at ten thousand workflows (figures: bench/scale_workflows.py): an event
tries only the triggers indexed under its type or a prefix of it, in the workflows' order."""

import fnmatch
import re

from orchestrator.workflows.triggers import CompiledTrigger, TriggerIndex


def compiled(name: str, glob: str) -> tuple[str, CompiledTrigger]:
    pattern = re.compile(fnmatch.translate(glob))
    return glob, CompiledTrigger(workflow_id=0, version_id=0, name=name, pattern=pattern, when=None)


GLOBS = {
    "exact-pr": "github.pull_request.opened",
    "any-pr": "github.pull_request.*",
    "any-github": "github.*",
    "everything": "*",
    "linear-issue": "linear.issue.create",
    "slack-one-char": "slack.?essage",
}


def index() -> TriggerIndex:
    return TriggerIndex.build([compiled(name, glob) for name, glob in GLOBS.items()])


def test_candidates_are_the_exact_type_and_the_globs_whose_prefix_it_starts_with():
    names = [t.name for t in index().candidates("github.pull_request.opened")]
    assert names == ["exact-pr", "any-pr", "any-github", "everything"]


def test_an_event_of_another_platform_never_tries_the_first_platforms_triggers():
    assert [t.name for t in index().candidates("slack.message")] == ["everything", "slack-one-char"]
    assert [t.name for t in index().candidates("linear.issue.update")] == ["everything"]


def test_candidates_are_a_superset_of_every_match_for_many_types():
    built = index()
    for kind in ["github.push", "github.pull_request.closed", "linear.issue.create", "slack.x"]:
        matching = {name for name, glob in GLOBS.items() if fnmatch.fnmatchcase(kind, glob)}
        tried = {t.name for t in built.candidates(kind) if t.pattern.match(kind)}
        assert tried == matching
