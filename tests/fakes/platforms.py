"""Moved into the product as `integrations.sandbox` (the loopback sandbox `make run` serves);
the tests' name for it stays, so existing imports keep working."""

from integrations.sandbox import PLATFORMS, Behaviour, Call, Fault, main
from integrations.sandbox import PlatformSandbox as FakePlatforms

__all__ = ["PLATFORMS", "Behaviour", "Call", "FakePlatforms", "Fault", "main"]
