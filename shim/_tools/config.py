"""``[tool.shim]`` in ``pyproject.toml``: a project's paths, excludes, baseline and format.

The table is looked for in the ``pyproject.toml`` of the current directory
and then of each parent, the nearest one that has a ``[tool.shim]`` table
winning (as ruff finds ``[tool.ruff]``).  Paths in it are relative to the
directory of that ``pyproject.toml``, so ``shim scan`` gives the same answer
from any directory of the project.  Options on the command line win over
the file.

```toml
[tool.shim]
paths = ["src", "scripts"]
exclude = ["tests/data", "*_pb2.py"]
baseline = "shim-baseline.json"
format = "text"
```

Python 3.11 and later read TOML themselves; before, ``tomli`` does
(``pip install 'os-system-shim[toml]'``).
"""

from __future__ import annotations

import fnmatch
import importlib
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, final

from shim.exceptions import ShimError

__all__ = ["Config", "ConfigError", "Exclude", "load_config"]

_KEYS = {"paths", "exclude", "baseline", "format"}
# A header that opens [tool.shim] (or [tool], or a sub-table of it): only a
# file with one is parsed, so a Python without a TOML parser can still scan
# in a project that does not configure shim.
_MAY_HAVE_TABLE = re.compile(
    r"""^[ \t]*\[[ \t]*(?:tool[ \t]*\]|["']?tool["']?[ \t]*\.[ \t]*["']?shim\b)""",
    re.MULTILINE,
)


class ConfigError(ShimError, ValueError):
    """``[tool.shim]`` cannot be read or has a value shim does not accept."""


@final
class Config:
    """The settings of ``[tool.shim]``, paths made relative to the current directory."""

    __slots__ = ("baseline", "exclude", "format", "origin", "paths")

    def __init__(self) -> None:
        self.origin: Optional[str] = None
        self.paths: List[str] = []
        self.exclude: List[Tuple[str, str]] = []
        self.baseline: Optional[str] = None
        self.format: Optional[str] = None


@final
class Exclude:
    """Glob patterns of files and directories to leave out.

    A pattern without ``/`` matches a file or directory name anywhere
    (``build``, ``*_pb2.py``); a pattern with ``/`` matches a path relative
    to its root (the directory of ``pyproject.toml`` for the patterns
    there, the current directory for ``--exclude``), and a directory it
    matches is left out whole (``tests/data``).
    """

    __slots__ = ("_names", "_paths")

    def __init__(self, patterns: Sequence[Tuple[str, str]]) -> None:
        self._names = [
            (pattern.strip("/"), os.path.abspath(root))
            for pattern, root in patterns
            if "/" not in pattern.strip("/")
        ]
        self._paths = [
            (pattern.strip("/"), os.path.abspath(root))
            for pattern, root in patterns
            if "/" in pattern.strip("/")
        ]

    def __bool__(self) -> bool:
        return bool(self._names or self._paths)

    def excluded(self, path: str) -> bool:
        """Whether ``path`` (a file or a directory) is left out.

        A name pattern is matched against the file's name and, for a path
        below the pattern's root, every directory between the two (so
        ``generated`` leaves out ``generated/gen.py`` when it is named on the
        command line, as a hook names files).
        """
        absolute = os.path.abspath(path)
        name = os.path.basename(os.path.normpath(path))
        for pattern, root in self._names:
            if fnmatch.fnmatchcase(name, pattern):
                return True
            relative = os.path.relpath(absolute, root).replace(os.sep, "/")
            if not relative.startswith("../") and any(
                fnmatch.fnmatchcase(part, pattern) for part in relative.split("/")
            ):
                return True
        if not self._paths:
            return False
        for pattern, root in self._paths:
            relative = os.path.relpath(absolute, root).replace(os.sep, "/")
            if relative.startswith("../"):
                continue
            parts = relative.split("/")
            # The path itself or any directory above it.
            for end in range(len(parts), 0, -1):
                if fnmatch.fnmatchcase("/".join(parts[:end]), pattern):
                    return True
        return False


def load_config(start: Optional[str] = None) -> Config:
    """Read ``[tool.shim]`` of the nearest ``pyproject.toml`` that has one; defaults otherwise."""
    config = Config()
    directory = Path(start or os.getcwd()).absolute()
    for candidate in (directory, *directory.parents):
        path = candidate / "pyproject.toml"
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from None
        if not _MAY_HAVE_TABLE.search(text):
            continue
        table = _table(path, text)
        if table is None:
            continue
        _fill(config, table, path)
        return config
    return config


def _table(path: Path, text: str) -> Optional[Dict[str, Any]]:
    try:
        toml: Any = importlib.import_module("tomllib")
    except ModuleNotFoundError:
        try:
            toml = importlib.import_module("tomli")
        except ModuleNotFoundError:
            raise ConfigError(
                f"{path} has a [tool.shim] table, and reading it on this Python needs tomli: "
                "pip install 'os-system-shim[toml]'"
            ) from None
    try:
        document = toml.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    tool = document.get("tool")
    if not isinstance(tool, dict):
        return None
    table = tool.get("shim")
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.shim] must be a table")
    return table


def _fill(config: Config, table: Dict[str, Any], path: Path) -> None:
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ConfigError(
            f"{path}: unknown key {unknown[0]!r} in [tool.shim]; accepted: "
            + ", ".join(sorted(_KEYS))
        )
    root = path.parent
    config.origin = str(path)
    here = Path.cwd()
    for key in ("paths", "exclude"):
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(f"{path}: [tool.shim] {key} must be a list of strings")
    config.paths = [_relative(root / item, here) for item in table.get("paths", [])]
    config.exclude = [(item, str(root)) for item in table.get("exclude", [])]
    baseline = table.get("baseline")
    if baseline is not None:
        if not isinstance(baseline, str):
            raise ConfigError(f"{path}: [tool.shim] baseline must be a string")
        config.baseline = _relative(root / baseline, here)
    fmt = table.get("format")
    if fmt is not None and not isinstance(fmt, str):
        raise ConfigError(f"{path}: [tool.shim] format must be a string")
    config.format = fmt


def _relative(path: Path, here: Path) -> str:
    """``path`` relative to ``here`` when it is below it (shorter names in messages)."""
    try:
        return str(path.relative_to(here))
    except ValueError:
        return str(path)
