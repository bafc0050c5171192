"""`python -m extensions.sandbox_host FACTORY --port N`: serve one extension's sandbox.

An extension's manifest may name a `sandbox`: a factory answering an aiohttp application
that stands in for its platform's API. `manage.py demo` (what `make run` starts, never
`make serve`) serves each discovered extension's sandbox with this on a free loopback port
and gives the control plane `<NAME>_BASE_URL` pointing at it, so an extension whose
configuration defaults its base URL to `env:<NAME>_BASE_URL` works in the demo unchanged.
"""

import argparse

from aiohttp import web
from django.utils.module_loading import import_string


def dotted_path(factory) -> str:
    """A manifest's `sandbox` is code or a dotted path to it; this is the dotted path."""
    if isinstance(factory, str):
        return factory.replace(":", ".")
    return f"{factory.__module__}.{factory.__qualname__}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="serve an extension's sandbox API")
    parser.add_argument("factory", help="dotted path to the manifest's sandbox factory")
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args(argv)
    application = import_string(options.factory)()
    web.run_app(application, host="127.0.0.1", port=options.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
