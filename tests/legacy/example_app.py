"""A handler module written for the old CodegenApp; only the import line was changed.

(It was `from codegen import CodegenApp` and `from codegen.extensions.*.types import ...`.)
"""

import logging

from extensions.legacy import CodegenApp
from extensions.legacy.types import LinearEvent, PullRequestLabeledEvent, SlackEvent

logger = logging.getLogger(__name__)

app = CodegenApp(name="pr-helper", repo="acme/widgets")


@app.github.event("pull_request:labeled")
def handle_label(event: PullRequestLabeledEvent):
    logger.info("PR #%s labeled %s", event.number, event.label.name)
    app.slack.client.chat_postMessage(
        channel="#eng", text=f"PR #{event.number} got label {event.label.name}"
    )
    return {"number": event.number, "label": event.label.name}


@app.github.event("pull_request:labeled")
def count_labels(event: dict):
    # A second handler for the same key: the old app kept only the last one.
    return {"labels": len(event["pull_request"]["labels"])}


@app.linear.event("Issue")
def handle_issue(event: LinearEvent):
    return {"action": event.action, "title": event.data.title}


@app.slack.event("app_mention")
async def handle_mention(event: SlackEvent):
    app.slack.client.chat_postMessage(
        channel=event.channel, text=f"Hi <@{event.user}>!", thread_ts=event.ts
    )
    return {"replied_to": event.user}
