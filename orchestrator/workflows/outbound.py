"""What `core.http_request` puts between a workflow and the network: the SSRF guard, its
connection pool and a circuit breaker per upstream host.

**The guard.** A workflow document is operator input, and its URL is a template over webhook
payloads, so a step must not reach the control plane's own network unless an operator says
so: loopback, private (RFC 1918, ULA), link-local (cloud metadata at 169.254.169.254),
carrier-grade NAT, multicast, reserved and unspecified addresses are refused unless
HTTP_REQUEST_ALLOWLIST names the host or a network holding the address. The check runs on
the addresses the connection will actually use, inside the connector, for the first request
and for every redirect, so neither DNS answers nor redirects can get round it.

**The pool.** One pooled session per runner loop with HTTP_REQUEST_POOL_MAX connections; the
runner's slot semaphore has the same size, so a step's timeout starts only when a connection
is free (a request that waited for the pool and then timed out mid-flight was retried into a
duplicate call).

**Breakers.** One per upstream host and port, with the platforms' semantics and store
(`orchestrator/health/breakers.py`): one failing upstream is held back without holding back
the others.
"""

import hashlib
import ipaddress
from functools import cache

import aiohttp
from django.conf import settings

POOL = "http_request"  # the pool key: HTTP_REQUEST_POOL_MAX, and the runner's slot semaphore
BREAKER_KEY_MAX = 40  # BreakerState.platform's length
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(aiohttp.ClientError):
    """The upstream resolves only to addresses the SSRF guard refuses."""

    def __init__(self, host: str, address: str):
        super().__init__(
            f"{host} resolves to {address}, a loopback, private or link-local address; "
            "list it in HTTP_REQUEST_ALLOWLIST to allow it"
        )
        self.host, self.address = host, address


def is_internal(address: Address) -> bool:
    """Loopback, private, link-local, shared (CGNAT), multicast, reserved or unspecified."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address in ipaddress.ip_network("100.64.0.0/10")
    )


@cache
def _allowlist(entries: tuple[str, ...]) -> tuple[frozenset[str], tuple]:
    """Split the allowlist into host names and networks (entries are validated in settings)."""
    names, networks = set(), []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            names.add(entry.lower().rstrip("."))
    return frozenset(names), tuple(networks)


def permitted(host: str, address: str) -> bool:
    """May a request for `host` connect to `address`?"""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if not is_internal(ip):
        return True
    names, networks = _allowlist(tuple(settings.HTTP_REQUEST_ALLOWLIST))
    return host.lower().rstrip(".") in names or any(ip in network for network in networks)


class GuardedConnector(aiohttp.TCPConnector):
    """A TCPConnector that connects only to addresses the guard permits."""

    async def _resolve_host(self, host, port, traces=None):
        results = await super()._resolve_host(host, port, traces=traces)
        allowed = [result for result in results if permitted(host, result["host"])]
        if not allowed:
            raise AddressRefused(host, results[0]["host"] if results else "no address")
        return allowed


def breaker_key(host: str, port: int | None) -> str:
    """The breaker of one upstream: "http:<host>:<port>", hashed when too long to store."""
    key = f"http:{host.lower()}:{port}"
    if len(key) <= BREAKER_KEY_MAX:
        return key
    return f"http:{hashlib.sha256(key.encode()).hexdigest()[:32]}"
