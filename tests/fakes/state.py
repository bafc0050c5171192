"""Moved into the product as `integrations.sandbox_state` (the loopback sandbox `make run` serves);
this module stays so that existing imports keep working."""

import sys

import integrations.sandbox_state as _moved

sys.modules[__name__] = _moved
