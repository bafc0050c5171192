"""The legacy layer's manifest: a built-in extension whose one action runs old handlers."""

from extensions.api import Extension

extension = Extension(
    name="legacy",
    version="0.1.0",
    description="Runs handler modules written for the old CodegenApp as workflow steps.",
    actions=["extensions.legacy.action.run_handler"],
    config_schema={"type": "object", "properties": {}},
)
