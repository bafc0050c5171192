"""Build SPEC §8's echo extension, verbatim, as a source folder in a temporary directory."""

from pathlib import Path

ECHO_MODULE = """\
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
"""  # noqa: E501 - the SPEC's text, verbatim

PYPROJECT = """\
[project]
name = "my-{name}"
version = "{version}"

[project.entry-points."contexten.extensions"]
{name} = "my_{name}:extension"
"""


def build_echo(
    root: Path, version: str = "1.0.0", *, name: str = "echo", before: str = "", fields: str = ""
) -> Path:
    """A source folder of the SPEC text at `version`: its output says which version ran.
    `name` renames it, `before` adds code above the manifest, `fields` adds manifest fields."""
    folder = root / f"{name}-{version}"
    (folder / f"my_{name}").mkdir(parents=True)
    module = ECHO_MODULE.replace('version="1.0.0"', f'version="{version}"')
    module = module.replace('"text": params.text}', f'"text": params.text, "by": "{version}"}}')
    module = module.replace("extension = Extension(", f"{before}\nextension = Extension({fields}")
    module = module.replace('"echo', f'"{name}')
    (folder / f"my_{name}" / "__init__.py").write_text(module)
    (folder / "pyproject.toml").write_text(PYPROJECT.format(name=name, version=version))
    return folder


def build_wheel(root: Path, version: str = "1.0.0") -> Path:
    """The same package as a wheel: the layout a build backend writes (PEP 427)."""
    import zipfile

    source = build_echo(root / "wheel-src", version)
    wheel = root / f"my_echo-{version}-py3-none-any.whl"
    info = f"my_echo-{version}.dist-info"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.write(source / "my_echo" / "__init__.py", "my_echo/__init__.py")
        archive.writestr(
            f"{info}/METADATA", f"Metadata-Version: 2.1\nName: my-echo\nVersion: {version}\n"
        )
        archive.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        archive.writestr(
            f"{info}/entry_points.txt", "[contexten.extensions]\necho = my_echo:extension\n"
        )
        archive.writestr(f"{info}/RECORD", "")
    return wheel


def build_sdist(root: Path, version: str = "1.0.0") -> Path:
    """The same package as an sdist: one top folder holding pyproject.toml and the package."""
    import tarfile

    source = build_echo(root / "sdist-src", version)
    sdist = root / f"my_echo-{version}.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        archive.add(source, arcname=f"my_echo-{version}")
    return sdist
