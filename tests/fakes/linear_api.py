"""Moved into the product as `integrations.linear.sandbox` (the loopback sandbox `make run` serves);
this module stays so that existing imports keep working."""

import sys

import integrations.linear.sandbox as _moved

sys.modules[__name__] = _moved
