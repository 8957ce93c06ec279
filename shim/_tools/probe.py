"""What ``shim doctor`` asks an interpreter, run inside that interpreter.

:mod:`shim._tools.doctor` runs this file's source with ``PYTHON -c`` in the
interpreter it inspects, started with the environment and the interpreter
options the program would get, and reads one JSON object from its stdout.
It must answer where ``shim`` is not importable, or is another project of
that name, so it imports nothing of the package at module level and guards
every question; it is written for Python 3.6 and parses on older ones, so
that even Python 2 answers with its version.

Start-up itself is observed, not imitated: the probe process was started
with ``SHIM_ENABLE`` and the settings in its environment, so if the hook
ran, the lifecycle is armed by now.  The settings are also checked with the
interpreter's own ``shim._common.settings.from_env``, and ``SHIM_REDACT``'s
patterns compiled as activation compiles them (start-up only arms; a
pattern that does not compile switches the shim off at the first call).
"""

import json
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Dict, List, Optional

PACKAGE = "shim"
HOOKS = ("shim.pth", "shim.start")
#: What the package's own hook runs; the unrelated PyPI project "shim" has none.
HOOK_TARGET = "shim._runtime.startup"


def _error(exc: "BaseException") -> str:
    return "%s: %s" % (type(exc).__name__, exc)


def _same_dir(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


def _site_dirs() -> "Dict[str, Any]":
    """The directories whose .pth files site processes, as site sees them."""
    answer = {"imported": "site" in sys.modules}  # type: Dict[str, Any]
    try:
        import site

        dirs = list(getattr(site, "getsitepackages", list)())
        user = site.getusersitepackages() if hasattr(site, "getusersitepackages") else None
        answer.update(
            dirs=[d for d in dirs if isinstance(d, str)],
            user_dir=user,
            user_enabled=bool(getattr(site, "ENABLE_USER_SITE", False)),
        )
    except Exception as exc:
        answer.update(dirs=[], user_dir=None, user_enabled=False, error=_error(exc))
    return answer


def _package() -> "Dict[str, Any]":
    answer = {"importable": False}  # type: Dict[str, Any]
    try:
        import importlib.util

        spec = importlib.util.find_spec(PACKAGE)
    except Exception as exc:
        answer["error"] = _error(exc)
        return answer
    if spec is None or not spec.submodule_search_locations:
        return answer
    answer["importable"] = True
    answer["location"] = next(iter(spec.submodule_search_locations))
    try:
        ours = importlib.util.find_spec(HOOK_TARGET) is not None
    except Exception:
        ours = False
    answer["ours"] = ours
    if ours:
        try:
            from shim._version import __version__

            answer["version"] = __version__
        except Exception as exc:
            answer["error"] = _error(exc)
    return answer


def _hooks(package: "Dict[str, Any]", site_info: "Dict[str, Any]") -> "List[Dict[str, Any]]":
    """Every start-up hook file in the package's directory and in the site directories."""
    places = []  # type: List[str]
    if package.get("location"):
        places.append(os.path.dirname(package["location"]))
    places.extend(site_info.get("dirs", []))
    if site_info.get("user_dir"):
        places.append(site_info["user_dir"])
    found = []  # type: List[Dict[str, Any]]
    seen = []  # type: List[str]
    for place in places:
        for name in HOOKS:
            path = os.path.join(place, name)
            if not os.path.isfile(path) or any(_same_dir(path, s) for s in seen):
                continue
            seen.append(path)
            try:
                with open(path) as f:
                    ours = HOOK_TARGET in f.read()
            except (OSError, ValueError):
                ours = False
            user = bool(site_info.get("user_dir")) and _same_dir(place, site_info["user_dir"])
            site_dir = any(_same_dir(place, d) for d in site_info.get("dirs", []))
            found.append(
                {
                    "path": path,
                    "ours": ours,
                    "site_dir": site_dir,
                    "user_dir": user,
                    "processed": bool(
                        site_info.get("imported")
                        and (site_dir or (user and site_info.get("user_enabled")))
                    ),
                }
            )
    return found


def _settings(environ: "Dict[str, str]") -> "Dict[str, Any]":
    """Each SHIM_* variable and its verdict, from the interpreter's own shim."""
    # What the .pth line itself tests, for when the package cannot say.
    truthy = environ.get("SHIM_ENABLE", "").strip().lower() in ("1", "true", "yes", "on")
    answer = {"variables": {}, "checked": False, "enabled": truthy}  # type: Dict[str, Any]
    for name in sorted(environ):
        if name.startswith("SHIM_"):
            answer["variables"][name] = {"value": environ[name], "error": None}
    try:
        from shim._common import settings
    except Exception as exc:
        answer["error"] = _error(exc)
        return answer
    answer["checked"] = True
    answer["enabled"] = bool(settings.enabled(environ))
    known = set(settings.VARIABLES.values()) | {"SHIM_ENABLE"}
    for name, entry in answer["variables"].items():
        entry["known"] = name in known or name.startswith("SHIM_TEST_")
        if name not in settings.VARIABLES.values():
            continue
        try:
            values = settings.from_env({name: environ[name]})
            if name == "SHIM_REDACT" and values.get("redact"):
                from shim._common.redact import compile_patterns

                compile_patterns(values["redact"])
        except Exception as exc:
            entry["error"] = str(exc)
    return answer


def _platform() -> "Dict[str, Any]":
    answer = {}  # type: Dict[str, Any]
    try:
        answer["sh"] = os.path.realpath("/bin/sh") if os.name == "posix" else None
    except Exception:
        answer["sh"] = None
    try:
        answer["libc"] = os.confstr("CS_GNU_LIBC_VERSION")
    except Exception:
        answer["libc"] = None
    try:
        from shim._common import platform

        answer["shell_free_reason"] = platform.shell_free_reason()
        answer["shell"] = platform.shell().text
        answer["passes_dashdash"] = platform.SYSTEM_PASSES_DASHDASH
        answer["known"] = True
    except Exception:
        answer["known"] = False
    return answer


def _state() -> "Optional[str]":
    """What start-up did in this very process: the lifecycle's state, if it ran."""
    lifecycle = sys.modules.get("shim._runtime.lifecycle")
    if lifecycle is None:
        return None
    try:
        return str(lifecycle.state())
    except Exception:
        return None


def main() -> None:
    state = _state()
    # ``-c`` put the current directory first on sys.path; start-up looks
    # only where site does, before the program's own directory is added.
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]
    site_info = _site_dirs()
    package = _package()
    flags = sys.flags
    answer = {
        "python": {
            "executable": sys.executable,
            "version": list(sys.version_info[:3]),
            "implementation": getattr(sys, "implementation", None) and sys.implementation.name,
        },
        "flags": {
            "no_site": bool(flags.no_site),
            "isolated": bool(getattr(flags, "isolated", 0)),
            "no_user_site": bool(flags.no_user_site),
            "ignore_environment": bool(flags.ignore_environment),
        },
        "site": site_info,
        "package": package,
        "hooks": _hooks(package, site_info),
        "settings": _settings(dict(os.environ)),
        "platform": _platform(),
        "state": state,
    }
    sys.stdout.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
