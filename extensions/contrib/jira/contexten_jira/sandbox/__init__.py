"""A loopback stand-in for Jira Cloud's REST API v3 (see `server`)."""

from .server import Call, JiraSandbox, make_app

__all__ = ["Call", "JiraSandbox", "make_app"]
