"""The worked example of docs/extensions.md, extracted from the page itself.

Every fenced code block whose first line is `# beacon/<path>` is a file of the example
extension. `write_example` writes them under a folder, optionally as another version.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

DOC = Path(settings.BASE_DIR) / "docs" / "extensions.md"
BLOCK = re.compile(r"^```[a-z]*\n# (beacon/[\w/.-]+)\n(.*?)^```", re.S | re.M)


def example_files() -> dict[str, str]:
    """relative path (under beacon/) -> file text, in page order."""
    files = {}
    for path, body in BLOCK.findall(DOC.read_text()):
        files[path.removeprefix("beacon/")] = f"# {path}\n{body}"
    return files


def write_example(folder: Path, version: str = "1.0.0") -> Path:
    """Write the example under `folder` (as `version`); answer the source folder."""
    for relative, text in example_files().items():
        if version != "1.0.0":
            text = text.replace('version = "1.0.0"', f'version = "{version}"')
            text = text.replace('version="1.0.0"', f'version="{version}"')
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return folder
