"""Slack: `v0` request signing with a 300 s window, for the Events API, slash commands and
interactivity, which all post to the same URL.

- JSON `event_callback`: `slack.<event.type>` (`slack.app_mention`), delivery `event_id`.
- JSON `app_rate_limited`: `slack.app_rate_limited`, delivery `rate_limited:<team>:<minute>`.
- form `command=/deploy`: `slack.command.deploy`, delivery `command:<trigger_id>`.
- form `payload={"type": "block_actions", …}`: `slack.interaction.block_actions`,
  delivery `interaction:<trigger_id>`.

`url_verification` and `ssl_check` are answered and not stored. Slack's retries
(`X-Slack-Retry-Num`) carry the same `event_id`, so the dedupe answers them 200. Commands and
interactions are acknowledged with an empty 200: Slack shows any response body to the user.
"""

import hashlib
import hmac
import re
from collections.abc import Mapping

from integrations.slack.payloads import (
    EventCallback,
    Interaction,
    RateLimited,
    SlashCommand,
    UrlVerification,
)
from orchestrator.events.webhooks import (
    Delivery,
    Refusal,
    decode_utf8,
    digest_matches,
    dumps,
    form_fields,
    parse_json_object,
    typed,
)

SECRET_SETTING = "SLACK_SIGNING_SECRET"  # noqa: S105 - the setting's name, not a secret
MAX_SKEW_SECONDS = 300


def check_headers(headers: Mapping[str, str]) -> None:
    """Slack's type lives in the body; there is no event header to require."""


def verify(headers: Mapping[str, str], body: bytes, secret: str, now: float) -> None:
    """Check `v0=HMAC(v0:{timestamp}:{body})`, then that the timestamp is within 300 s."""
    signature = headers.get("x-slack-signature", "")
    timestamp = headers.get("x-slack-request-timestamp", "")
    if not signature or not timestamp:
        raise Refusal(401, "missing-signature", "X-Slack-Signature and timestamp are required")
    if not signature.startswith("v0="):
        raise Refusal(401, "unsupported-signature", "only v0= signatures are accepted")
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not digest_matches(expected, signature):
        raise Refusal(401, "invalid-signature", "signature does not match the body")
    if not timestamp.isdigit() or abs(now - int(timestamp)) > MAX_SKEW_SECONDS:
        raise Refusal(401, "stale-timestamp", "X-Slack-Request-Timestamp is more than 300 s away")


def parse(headers: Mapping[str, str], body: bytes, *, verified: bool, now: float) -> Delivery:
    text = decode_utf8(body)
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return parse_form(form_fields(text))
    return parse_events_api(parse_json_object(text), text)


def parse_events_api(payload: dict, text: str) -> Delivery:
    kind = payload.get("type")
    if kind == "url_verification":
        challenge = typed(UrlVerification, payload, "missing-challenge").challenge
        return Delivery("slack.url_verification", "", reply={"challenge": challenge})
    if kind == "app_rate_limited":
        limited = typed(RateLimited, payload, "bad-envelope")
        delivery = f"rate_limited:{limited.team_id}:{limited.minute_rate_limited}"
        return Delivery("slack.app_rate_limited", delivery, data_json=text)
    if kind != "event_callback":
        raise Refusal(400, "unsupported-type", "expected event_callback or url_verification")
    callback = typed(EventCallback, payload, "bad-envelope")
    return Delivery(f"slack.{callback.event.type}", callback.event_id, data_json=text)


def parse_form(fields: dict[str, str]) -> Delivery:
    """Slash commands post fields directly; interactivity posts JSON in `payload`."""
    if fields.get("ssl_check") == "1":
        return Delivery("slack.ssl_check", "", reply={})
    if "payload" in fields:
        return parse_interaction(parse_json_object(fields["payload"]), fields["payload"])
    if "command" not in fields:
        raise Refusal(400, "unsupported-form", "form is neither a slash command nor a payload")
    command = typed(SlashCommand, fields, "bad-command")
    name = re.sub(r"[^a-z0-9_]", "_", command.command[1:].lower())[:64]
    delivery = f"command:{command.trigger_id}"[:200]
    return Delivery(f"slack.command.{name}", delivery, data_json=dumps(fields), bare_ack=True)


def parse_interaction(payload: dict, text: str) -> Delivery:
    interaction = typed(Interaction, payload, "bad-interaction")
    key = interaction.delivery_key()
    if not key:
        raise Refusal(400, "missing-trigger-id", "interaction has no trigger_id or action_ts")
    delivery = f"interaction:{key}"[:200]
    return Delivery(
        f"slack.interaction.{interaction.type}", delivery, data_json=text, bare_ack=True
    )
