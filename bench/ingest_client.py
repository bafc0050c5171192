"""The Python load generator for `bench ingest` when wrk is not installed: asyncio + aiohttp,
N connections each posting as fast as answers come back."""

import asyncio
import time


def run_python_client(url, body, signature, seconds, connections, tag) -> tuple:
    """Return (name, rate, p50_ms, p99_ms, errors, accepted)."""
    return asyncio.run(drive(url, body, signature, seconds, connections, tag))


async def drive(url, body, signature, seconds, connections, tag) -> tuple:
    import aiohttp

    latencies: list[float] = []
    errors = [0]
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        workers = [
            worker(session, url, body, signature, f"{tag}-{n}", deadline, latencies, errors)
            for n in range(connections)
        ]
        started = time.monotonic()
        await asyncio.gather(*workers)
        elapsed = time.monotonic() - started
    latencies.sort()
    p50 = latencies[len(latencies) // 2] if latencies else float("nan")
    p99 = latencies[int(len(latencies) * 0.99)] if latencies else float("nan")
    return ("ingest", len(latencies) / elapsed, p50, p99, errors[0], len(latencies))


async def worker(session, url, body, signature, prefix, deadline, latencies, errors):
    count = 0
    while time.monotonic() < deadline:
        count += 1
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": f"{prefix}-{count}",
            "X-Hub-Signature-256": signature,
        }
        started = time.monotonic()
        try:
            async with session.post(f"{url}/webhooks/github/", data=body, headers=headers) as reply:
                await reply.read()
                ok = reply.status == 202
        except Exception:  # any transport failure counts as an error
            ok = False
        if ok:
            latencies.append((time.monotonic() - started) * 1000)
        else:
            errors[0] += 1
