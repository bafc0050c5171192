"""Moved into the product as `integrations.slack.sandbox` (the loopback sandbox `make run` serves);
this module stays so that existing imports keep working."""

import sys

import integrations.slack.sandbox as _moved

sys.modules[__name__] = _moved
