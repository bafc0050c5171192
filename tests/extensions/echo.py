"""Build SPEC §8's echo extension, verbatim, as a source folder in a temporary directory."""

from pathlib import Path

ECHO_MODULE = '''\
import asyncio
from pydantic import BaseModel
from extensions.api import ActionContext, Extension, action

class EchoInput(BaseModel):
    text: str
    seconds: float = 0

@action("echo.say", input_model=EchoInput)
async def say(params: EchoInput, context: ActionContext) -> dict:
    await asyncio.sleep(params.seconds)
    return {"text": params.text}

extension = Extension(name="echo", version="1.0.0", actions=[say],
                      config_schema={"type": "object", "properties": {"prefix": {"type": "string"}}})
'''

PYPROJECT = """\
[project]
name = "my-echo"
version = "{version}"

[project.entry-points."contexten.extensions"]
echo = "my_echo:extension"
"""


def build_echo(root: Path, version: str = "1.0.0", extra: str = "") -> Path:
    """A source folder for echo at `version` (the SPEC text with its version bumped)."""
    folder = root / f"echo-{version}"
    (folder / "my_echo").mkdir(parents=True)
    module = ECHO_MODULE.replace('version="1.0.0"', f'version="{version}"')
    module = module.replace('return {"text": params.text}', f'return {{"text": params.text, "by": "{version}"}}')
    (folder / "my_echo" / "__init__.py").write_text(module + extra)
    (folder / "pyproject.toml").write_text(PYPROJECT.format(version=version))
    return folder
