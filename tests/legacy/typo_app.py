"""A handler module whose key has a typo (`labelled`)."""

from extensions.legacy import CodegenApp

app = CodegenApp(name="typo")


@app.github.event("pull_request:labelled")
def on_label(event: dict):
    return event
