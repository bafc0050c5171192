"""The per-process API token cache, and the one place a token's revocation is announced.

Why a cache: OFREP answers on the event loop with no query (`flags/asgi.py`), so a token it
has looked up once is kept. Why a generation: a revoked token (deleted, or its user made
inactive or deleted) must stop working on every process within a second. Each change to a
token or a user announces the "api-tokens" generation (`core/generations.py`); each process
checks that generation at most every TOKEN_CACHE_POLL_MS and, when it moved, starts from an
empty cache, so every token is looked up afresh. Between checks, readers touch nothing.

DRF's TokenAuthentication (the REST API) queries on every request and needs none of this.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save
from rest_framework.authtoken.models import Token

from orchestrator.core import generations

GENERATION = "api-tokens"
MAX_TOKENS = 10_000  # bound memory against floods of made-up tokens

# token key -> True (active user), False (inactive user), None (no such token)
cache: generations.Cached[dict[str, bool | None]] = generations.Cached(
    GENERATION, dict, lambda: settings.TOKEN_CACHE_POLL_SECONDS
)


def known(token: str) -> bool:
    """Whether the cache (perhaps due for its check) holds an answer for `token`."""
    return cache.loaded and token in cache.value


def cached_state(token: str) -> bool | None:
    return cache.value.get(token) if cache.loaded else None


def state(token: str) -> bool | None:
    """Active, inactive or unknown (None); queries only for a token not cached since the
    last generation change."""
    tokens = cache.get()
    if token in tokens:
        return tokens[token]
    row = Token.objects.select_related("user").filter(key=token).first()
    active = None if row is None else row.user.is_active
    if len(tokens) >= MAX_TOKENS:
        tokens.clear()
    tokens[token] = active
    return active


def announce(**_) -> None:
    """A token or user changed (created, revoked, deactivated): every process looks again."""
    generations.announce(GENERATION, cache)


def user_saved(update_fields=None, **kwargs) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # every login saves last_login; that revokes nothing
    announce()


def connect() -> None:
    """Called from CoreConfig.ready."""
    user = get_user_model()
    post_save.connect(announce, sender=Token, dispatch_uid="tokens.token-saved")
    post_delete.connect(announce, sender=Token, dispatch_uid="tokens.token-deleted")
    post_save.connect(user_saved, sender=user, dispatch_uid="tokens.user-saved")
    post_delete.connect(announce, sender=user, dispatch_uid="tokens.user-deleted")
