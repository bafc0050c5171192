"""Operator notices (a guarded rollback) as a Slack message in FLAGS_SLACK_CHANNEL."""

from django.conf import settings

from extensions.api import ActionContext
from integrations.slack.actions import PostMessageInput, post_message


async def post_notice(text: str, context: ActionContext) -> dict:
    params = PostMessageInput(channel=settings.FLAGS_SLACK_CHANNEL, text=text)
    return await post_message.handler(params, context)
