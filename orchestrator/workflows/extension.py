"""The core extension's manifest: the actions every installation has, and the `core`
configuration namespace."""

from importlib.metadata import PackageNotFoundError, version

from extensions.api import Extension


def core_version() -> str:
    """The installed control plane's version, which manifests' `core` specifiers match."""
    try:
        return version("contexten")
    except PackageNotFoundError:
        return "0.1.0"


extension = Extension(
    name="core",
    version=core_version(),
    description="Log a line, wait, call any HTTP endpoint.",
    actions=[
        "orchestrator.workflows.core_actions.log",
        "orchestrator.workflows.core_actions.delay",
        "orchestrator.workflows.core_actions.http_request",
    ],
    config_schema={"type": "object", "properties": {}},
)
