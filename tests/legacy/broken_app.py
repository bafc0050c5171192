"""A handler module that fails to import (for migrate_legacy's refusal)."""

from extensions.legacy import CodegenApp

app = CodegenApp(name="broken")


@app.github.event("push")
def on_push(event: dict):
    return event


raise RuntimeError("missing configuration")  # as a real module would, at import
