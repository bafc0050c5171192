"""`CodegenApp` / `ContextenApp`: the old decorator API over Contexten's real pipeline.

A legacy module keeps its code; only its import changes. Decorating a function records it on
the app. `manage.py migrate_legacy` (or `simulate_event`) persists the registrations and
generates one workflow per key, whose steps run the functions on workers through the
`legacy.handler` action: stored, deduplicated, retried, and visible as runs.
"""

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from extensions.legacy import keys

logger = logging.getLogger("contexten.legacy")


class LegacyKeyWarning(UserWarning):
    """A handler key the old platforms never send (most likely a typo)."""


class LegacyUnsupported(AttributeError):
    """A part of the old app Contexten replaces; the message names the replacement."""


@dataclass(frozen=True)
class HandlerRef:
    provider: str
    key: str
    func: Callable

    @property
    def path(self) -> str:
        return f"{self.func.__module__}:{self.func.__qualname__}"


class EventHandlers:
    """`app.github`, `app.linear`, `app.slack`: `.event(key)` registers a handler."""

    provider = ""

    def __init__(self, app: "CodegenApp"):
        self.app = app
        self.registered_handlers: dict[str, list[Callable]] = {}

    def event(self, key: str):
        problem = keys.key_problem(self.provider, key)
        if problem:
            warnings.warn(problem, LegacyKeyWarning, stacklevel=2)

        def register(func: Callable) -> Callable:
            # Several handlers per key (the old app kept only the last one).
            self.registered_handlers.setdefault(key, []).append(func)
            return func

        return register

    def unsubscribe_all_handlers(self) -> None:
        self.registered_handlers.clear()

    def refs(self) -> list[HandlerRef]:
        return [
            HandlerRef(self.provider, key, func)
            for key, funcs in self.registered_handlers.items()
            for func in funcs
        ]


class GitHub(EventHandlers):
    provider = "github"

    @property
    def client(self):
        raise LegacyUnsupported(
            "app.github.client (PyGithub) is not provided: call the github.* workflow "
            "actions, or build a client from settings.GITHUB_TOKEN (docs/migration.md)"
        )


class Linear(EventHandlers):
    provider = "linear"

    @property
    def client(self):
        raise LegacyUnsupported(
            "app.linear.client is not provided: call the linear.* workflow actions "
            "(docs/migration.md)"
        )


class Slack(EventHandlers):
    provider = "slack"
    _client = None

    @property
    def client(self):
        """A real slack_sdk WebClient on SLACK_API_URL with SLACK_BOT_TOKEN."""
        if self._client is None:
            from django.conf import settings
            from slack_sdk import WebClient

            base_url = settings.SLACK_API_URL.rstrip("/") + "/"
            self._client = WebClient(token=settings.SLACK_BOT_TOKEN or None, base_url=base_url)
        return self._client


class CodegenApp:
    """The old app's surface: `.github`, `.linear`, `.slack` and `simulate_event`."""

    def __init__(
        self,
        name: str,
        repo: str | None = None,
        tmp_dir: str = "/tmp/codegen",  # noqa: S108 - the old default
        commit: str | None = "latest",
    ):
        self.name = name
        self.repo = repo
        self.tmp_dir = tmp_dir
        self.commit = commit
        self.github = GitHub(self)
        self.linear = Linear(self)
        self.slack = Slack(self)

    def handlers(self) -> list[HandlerRef]:
        return self.github.refs() + self.linear.refs() + self.slack.refs()

    async def simulate_event(self, provider: str, event_type: str, payload: dict) -> Any:
        """Store the event, let workers dispatch and run it, answer the handler's result."""
        if provider not in keys.PROVIDERS:
            raise ValueError(f"Unknown provider: {provider}. Must be one of {list(keys.PROVIDERS)}")
        from extensions.legacy import simulate

        return await simulate.simulate(self, provider, event_type, payload)

    def run(self, host: str = "0.0.0.0", port: int = 8000, **kwargs):  # noqa: S104 - old default
        raise LegacyUnsupported(
            "CodegenApp.run() is replaced: register the handlers with "
            "`manage.py migrate_legacy --env FILE --handlers MODULE`, then `make serve`"
        )


ContextenApp = CodegenApp
