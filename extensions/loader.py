"""Unpack an extension (wheel, sdist or source folder) into its own folder, and load it there
under a module name of its own, so several versions can be imported side by side.

Layout: `EXTENSIONS_DIR/<name>/<version>/` holds the package's top-level modules (a wheel's
contents, or the source tree's `src/` or root) and `entry_point.txt` (`module:attr`). The
top-level package `pkg` of extension `echo` 2.0.0 is imported as
`contexten_ext_echo_2_0_0_<folder hash>` (its submodules below it), so `echo` 1.0.0 and 2.0.0
never share a module in sys.modules. Relative imports inside the package work; an absolute
import of its own name does not.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import shutil
import sys
import tarfile
import tempfile
import tomllib
import zipfile
from configparser import ConfigParser
from dataclasses import dataclass
from pathlib import Path

from extensions.api import Extension, ManifestError
from extensions.discovery import ENTRY_POINT_GROUP

ENTRY_FILE = "entry_point.txt"


class PackageError(ManifestError):
    """A PATH that is no installable extension; the message says why."""


@dataclass(frozen=True)
class Unpacked:
    """A package unpacked into a temporary folder, not yet loaded."""

    root: Path  # holds the top-level module(s)
    entry: str  # "module:attr"
    name: str  # the entry point's name


def module_alias(name: str, version: str, folder: str = "") -> str:
    """The version's module name; the folder's hash keeps a reinstall from reusing modules."""
    digest = hashlib.sha1(folder.encode(), usedforsecurity=False).hexdigest()[:8]
    return f"contexten_ext_{name}_{re.sub(r'[^A-Za-z0-9]', '_', version)}_{digest}"


# --- unpacking -------------------------------------------------------------------------------
def unpack(path: Path, into: Path) -> Unpacked:
    """Copy or extract `path` (wheel, sdist, source folder) into `into`."""
    if not path.exists():
        raise PackageError(f"{path}: no such file or folder")
    if path.is_dir():
        return _from_source(path, into)
    if path.suffix == ".whl":
        return _from_wheel(path, into)
    if path.name.endswith((".tar.gz", ".tgz")):
        return _from_sdist(path, into)
    raise PackageError(f"{path}: not a wheel (.whl), an sdist (.tar.gz) or a source folder")


def _from_source(folder: Path, into: Path) -> Unpacked:
    pyproject = folder / "pyproject.toml"
    if not pyproject.is_file():
        raise PackageError(f"{folder}: no pyproject.toml")
    try:
        project = tomllib.loads(pyproject.read_text()).get("project", {})
    except tomllib.TOMLDecodeError as exc:
        raise PackageError(f"{pyproject}: {exc}") from None
    entries = project.get("entry-points", {}).get(ENTRY_POINT_GROUP, {})
    name, entry = _single_entry(entries, pyproject)
    source = folder / "src" if (folder / "src").is_dir() else folder
    top = entry.split(":")[0].split(".")[0]
    for candidate in (source / top, source / f"{top}.py"):
        if candidate.exists():
            target = into / candidate.name
            if candidate.is_dir():
                shutil.copytree(candidate, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(candidate, target)
            return Unpacked(into, entry, name)
    raise PackageError(f"{folder}: the entry point names {top!r}, which is not in the folder")


def _from_wheel(wheel: Path, into: Path) -> Unpacked:
    try:
        with zipfile.ZipFile(wheel) as archive:
            _check_members(archive.namelist(), wheel)
            archive.extractall(into)  # noqa: S202 - members checked above
    except zipfile.BadZipFile:
        raise PackageError(f"{wheel}: not a valid wheel") from None
    found = list(into.glob("*.dist-info/entry_points.txt"))
    if not found:
        raise PackageError(f"{wheel}: declares no entry points")
    parser = ConfigParser(delimiters=("=",))
    parser.optionxform = str
    parser.read_string(found[0].read_text())
    entries = dict(parser[ENTRY_POINT_GROUP]) if parser.has_section(ENTRY_POINT_GROUP) else {}
    name, entry = _single_entry(entries, wheel)
    return Unpacked(into, entry, name)


def _from_sdist(sdist: Path, into: Path) -> Unpacked:
    with tempfile.TemporaryDirectory() as scratch:
        try:
            with tarfile.open(sdist) as archive:
                archive.extractall(scratch, filter="data")
        except tarfile.TarError as exc:
            raise PackageError(f"{sdist}: not a valid sdist ({exc})") from None
        roots = [p for p in Path(scratch).iterdir() if p.is_dir()]
        if len(roots) != 1:
            raise PackageError(f"{sdist}: expected one top-level folder")
        return _from_source(roots[0], into)


def _check_members(names: list[str], archive: Path) -> None:
    for member in names:
        if member.startswith("/") or ".." in Path(member).parts:
            raise PackageError(f"{archive}: unsafe path {member!r}")


def _single_entry(entries: dict, where: Path) -> tuple[str, str]:
    if len(entries) != 1:
        raise PackageError(
            f"{where}: needs exactly one entry point in group {ENTRY_POINT_GROUP!r}, "
            f"found {len(entries)}"
        )
    name, entry = next(iter(entries.items()))
    return name, entry.strip()


def write_entry(folder: Path, entry: str) -> None:
    (folder / ENTRY_FILE).write_text(entry + "\n")


# --- loading ---------------------------------------------------------------------------------
def load_folder(name: str, version: str, folder: str) -> Extension:
    """Import an installed version under its own module name; answer its manifest."""
    root = Path(folder)
    entry = (root / ENTRY_FILE).read_text().strip()
    return load_entry(root, entry, module_alias(name, version, str(root.resolve())))


def load_entry(root: Path, entry: str, alias: str) -> Extension:
    """Import `entry` ("pkg.mod:attr") from `root`, its top package renamed to `alias`."""
    module_path, _, attr = entry.partition(":")
    top, _, rest = module_path.partition(".")
    if alias not in sys.modules:
        _import_top(root, top, alias)
    module = importlib.import_module(f"{alias}.{rest}" if rest else alias)
    try:
        manifest = getattr(module, attr) if attr else module
    except AttributeError:
        raise PackageError(f"entry point {entry}: {module_path} has no {attr!r}") from None
    if not isinstance(manifest, Extension):
        raise PackageError(f"entry point {entry} is not an Extension")
    return manifest


def _import_top(root: Path, top: str, alias: str) -> None:
    package = root / top
    if package.is_dir():
        spec = importlib.util.spec_from_file_location(
            alias, package / "__init__.py", submodule_search_locations=[str(package)]
        )
    else:
        spec = importlib.util.spec_from_file_location(alias, root / f"{top}.py")
    if spec is None or spec.loader is None:
        raise PackageError(f"{root}: cannot import {top!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[alias]
        raise


def forget_alias(alias: str) -> None:
    """Drop a loaded package's modules from this process (a staged, validated install)."""
    for module in [m for m in sys.modules if m == alias or m.startswith(alias + ".")]:
        del sys.modules[module]
