"""`python -m contexten_jira.sandbox [--port N]`: serve the Jira sandbox until interrupted."""

import argparse
import contextlib
import signal
import threading

from contexten_jira.sandbox.server import DEMO_ISSUE, JiraSandbox


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a loopback Jira Cloud REST v3 sandbox.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8111)
    args = parser.parse_args()
    sandbox = JiraSandbox(args.host, args.port)
    sandbox.state.add_issue(DEMO_ISSUE, "Webhook retries create duplicate runs")
    sandbox.start()
    print(f"Jira sandbox at {sandbox.url} (Basic {sandbox.EMAIL}:{sandbox.API_TOKEN})", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
    sandbox.stop()


if __name__ == "__main__":
    main()
