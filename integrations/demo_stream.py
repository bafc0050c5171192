"""A gentle stream of signed demo webhooks for `make run`, through the real webhook path.

Each delivery comes from an integration's sandbox (`demo_delivery(secret, n)`): a real
fixture payload, varied and signed the way the platform signs it, then POSTed to the served
control plane like any webhook. With the sandboxes standing in for the platforms, the demo
workflows' runs succeed and the dashboard moves.

    python -m integrations.demo_stream --url http://127.0.0.1:8000 [--interval 2.5]

Secrets come from the environment (GITHUB_WEBHOOK_SECRET, …), as the web process reads them.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import random
import sys
import time
import urllib.error
import urllib.request

from integrations.sandbox import DEMO_PLATFORMS

# How often each platform sends, relative to the others.
WEIGHTS = {"github": 3, "slack": 3, "linear": 1}


def send(base_url: str, platform: str, n: int) -> int:
    """Sign and POST one demo delivery; answer the HTTP status."""
    module_path, secret_setting = DEMO_PLATFORMS[platform]
    secret = os.environ.get(secret_setting, "")
    path, body, headers = importlib.import_module(module_path).demo_delivery(secret, n)
    url = base_url + path
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def stream(base_url: str, interval: float, count: int | None = None) -> None:
    """Send forever (or `count` times), one delivery every `interval` s on average."""
    platforms = [p for p in DEMO_PLATFORMS for _ in range(WEIGHTS.get(p, 1))]
    n = 0
    while count is None or n < count:
        platform = random.choice(platforms)
        try:
            status = send(base_url, platform, n)
        except OSError:  # the web process is still starting, or restarting
            status = None
        if status is not None and status >= 400:
            print(f"demo-stream: {platform} webhook answered {status}", file=sys.stderr, flush=True)
        n += 1
        time.sleep(random.uniform(0.5, 1.5) * interval)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="send signed demo webhooks to Contexten")
    parser.add_argument("--url", required=True, help="the served control plane's base URL")
    parser.add_argument("--interval", type=float, default=2.5, help="mean seconds between sends")
    parser.add_argument("--count", type=int, default=None, help="stop after this many")
    options = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        stream(options.url.rstrip("/"), options.interval, options.count)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
