"""``shim doctor``: would the shim be active in this interpreter, and if not, why not.

The interpreter is asked, not guessed about: :mod:`shim._tools.probe` runs
in it with the environment and the interpreter options the program would
get, and reports where ``shim`` is importable from, which start-up hook
files ``site`` processes, what start-up did in that very process, and the
verdict of the interpreter's own settings code on every ``SHIM_*``
variable.  This module turns the answer into lines for a person and one
cause with its fix.  ``shim run`` uses the same diagnosis on the program it
starts when that program is a Python interpreter or a script for one.

Exit statuses: 0 the shim would be active; 1 it would not (the cause and
the fix are printed); 2 the interpreter could not be asked.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys

from shim._tools import probe as _probe
from shim._tools.exits import EXIT_FINDINGS, EXIT_OK, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

__all__ = ["Diagnosis", "diagnose", "python_of", "register"]

INSTALL = "pip install os-system-shim"
#: Interpreter names ``shim run`` checks: python, python3, python3.12, pypy3, python3.14t...
_PYTHON_NAME = re.compile(r"(python|pypy)[0-9.]*[dmt]?(\.exe)?", re.IGNORECASE)
#: Interpreter options that change what start-up sees; passed on to the probe.
_STARTUP_FLAGS = frozenset("EIPSs")
_PROBE_TIMEOUT = 60


class Diagnosis:
    """What the probe found in one interpreter: lines for a person, and the first cause."""

    def __init__(self, python: str) -> None:
        self.python = python
        self.lines = []  # type: List[Tuple[str, str]]
        self.cause = None  # type: Optional[str]
        self.fix = None  # type: Optional[str]

    @property
    def active(self) -> bool:
        """Whether the shim would be active: no cause was found."""
        return self.cause is None

    def line(self, label: str, text: str) -> None:
        self.lines.append((label, text))

    def blocked(self, cause: str, fix: str) -> None:
        """Record why the shim would not be active (the first cause is the one reported)."""
        if self.cause is None:
            self.cause, self.fix = cause, fix

    def summary(self) -> str:
        """One line: the verdict, and the fix when the shim would not be active."""
        if self.cause is None:
            return f"active: os.system goes through the shim in {self.python}"
        return f"not active in {self.python}: {self.cause}; fix: {self.fix}"

    def render(self) -> str:
        width = max((len(label) for label, _ in self.lines), default=0)
        body = [f"{label.ljust(width)}  {text}" for label, text in self.lines]
        return "\n".join([*body, f"verdict: {self.summary()}"]) + "\n"


def register(subparsers: "argparse._SubParsersAction[Any]") -> None:
    """Add the ``doctor`` subcommand."""
    parser = subparsers.add_parser(
        "doctor",
        help="say whether the shim would be active in an interpreter, and why not",
        description=(
            "Ask an interpreter (this one, or --python EXE) whether the shim would be active "
            "in it with the current environment: whether os-system-shim is importable there "
            "and which version, where its start-up hook is and whether site processes it, "
            "whether SHIM_ENABLE and each SHIM_* setting would switch it on (checked by that "
            "interpreter's own code), which /bin/sh and C library it found, and whether "
            "commands can run without /bin/sh there. Exit status 0 when the shim would be "
            "active, 1 when not (with the cause and the fix), 2 when the interpreter could "
            "not be asked."
        ),
    )
    parser.add_argument(
        "--python",
        metavar="EXE",
        help="the interpreter to ask (a path, or a name looked up on PATH); default: this one",
    )
    parser.set_defaults(func=doctor)


def doctor(args: argparse.Namespace) -> int:
    """``shim doctor``: print the diagnosis; 0 when the shim would be active, else 1."""
    python = sys.executable if args.python is None else _resolve(args.python, os.environ)
    diagnosis = diagnose(python, environ=os.environ)
    sys.stdout.write(diagnosis.render())
    return EXIT_OK if diagnosis.active else EXIT_FINDINGS


def _resolve(name: str, environ: "Mapping[str, str]") -> str:
    found = shutil.which(name, path=environ.get("PATH", os.defpath))
    if found is None:
        raise UsageError(f"doctor: --python {name}: no such interpreter")
    return found


# -- asking the interpreter ------------------------------------------------------------


def ask(
    python: str, options: "Sequence[str]", environ: "Mapping[str, str]"
) -> "Tuple[Dict[str, Any], str]":
    """Run the probe in ``python``; return its answer and what it wrote on stderr.

    Raises :class:`UsageError` when the interpreter cannot be run or does
    not answer.
    """
    with open(_probe.__file__, encoding="utf-8") as f:
        source = f.read()
    argv = [python, *options, "-c", source]
    try:
        proc = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(environ),
            timeout=_PROBE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise UsageError(f"cannot run {python}: {exc}") from None
    err = proc.stderr.decode("utf-8", "replace")
    try:
        answer = json.loads(proc.stdout.decode("utf-8", "replace").strip().splitlines()[-1])
    except (ValueError, IndexError):
        first = err.strip().splitlines()[:1] or [f"exit status {proc.returncode}"]
        raise UsageError(f"{python} did not answer the probe: {first[0]}") from None
    if not isinstance(answer, dict):
        raise UsageError(f"{python} did not answer the probe")
    return answer, err


def diagnose(
    python: str, *, options: "Sequence[str]" = (), environ: "Optional[Mapping[str, str]]" = None
) -> Diagnosis:
    """Ask ``python`` (started with ``options``, in ``environ``) about the shim."""
    env = dict(os.environ if environ is None else environ)
    answer, err = ask(python, options, env)
    diagnosis = Diagnosis(python)
    _interpreter(diagnosis, answer, options)
    _package(diagnosis, answer)
    _hooks(diagnosis, answer)
    _settings(diagnosis, answer)
    _startup(diagnosis, answer, err)
    _platform(diagnosis, answer)
    return diagnosis


def _interpreter(diagnosis: Diagnosis, answer: "Dict[str, Any]", options: "Sequence[str]") -> None:
    info = answer.get("python", {})
    version = ".".join(str(p) for p in info.get("version", []))
    name = {"cpython": "CPython", "pypy": "PyPy"}.get(str(info.get("implementation")), "Python")
    started = f", started with {' '.join(options)}" if options else ""
    diagnosis.line(
        "python", f"{info.get('executable') or diagnosis.python} ({name} {version}{started})"
    )
    if tuple(info.get("version", [])) < (3, 6):
        diagnosis.blocked(
            f"Python {version} is not supported", "use Python 3.6 or later for the program"
        )


def _package(diagnosis: Diagnosis, answer: "Dict[str, Any]") -> None:
    package = answer.get("package", {})
    python = diagnosis.python
    if not package.get("importable") and answer.get("flags", {}).get("no_site"):
        diagnosis.line(
            "package", "not importable: site is disabled (-S), site-packages is not on sys.path"
        )
        diagnosis.blocked(
            "site is disabled (-S): neither the package nor its start-up hook is reachable",
            "start the interpreter without -S",
        )
    elif not package.get("importable"):
        diagnosis.line("package", "not importable: os-system-shim is not installed there")
        diagnosis.blocked(
            "os-system-shim is not installed for this interpreter", f"{python} -m {INSTALL}"
        )
    elif not package.get("ours"):
        diagnosis.line("package", f"{package.get('location')}: another project named 'shim'")
        diagnosis.blocked(
            f"the 'shim' importable there ({package.get('location')}) is not os-system-shim",
            f"{python} -m pip uninstall shim, then {python} -m {INSTALL}",
        )
    else:
        version = package.get("version") or "(version unknown)"
        diagnosis.line("package", f"os-system-shim {version}, {package.get('location')}")


def _hooks(diagnosis: Diagnosis, answer: "Dict[str, Any]") -> None:
    package = answer.get("package", {})
    if not package.get("ours"):
        return
    flags = answer.get("flags", {})
    # Python 3.15 runs shim.start (PEP 829) and skips the .pth line it
    # replaces; older ones read only shim.pth.
    kind = ".start" if tuple(answer.get("python", {}).get("version", [])) >= (3, 15) else ".pth"
    ours = [h for h in answer.get("hooks", []) if h.get("ours")]
    hooks = [h for h in ours if h["path"].endswith(kind)] or ours
    # An editable install leaves the checkout's copies beside the package:
    # only the ones site reads matter when there are such.
    hooks = [h for h in hooks if h["processed"]] or hooks
    for hook in hooks:
        where = "site processes it" if hook["processed"] else "not processed by site"
        diagnosis.line("start-up", f"{hook['path']}: {where}")
    python = diagnosis.python
    auto = "or add 'import shim.auto' at the top of the program"
    if not hooks:
        where = os.path.dirname(str(package.get("location")))
        diagnosis.line("start-up", f"no shim.pth beside the package in {where}")
        diagnosis.blocked(
            f"the start-up hook shim.pth is missing from {where}",
            f"{python} -m pip install --force-reinstall os-system-shim, {auto}",
        )
    elif flags.get("no_site") or not answer.get("site", {}).get("imported"):
        diagnosis.blocked(
            "site is disabled (-S): no .pth file runs at start-up",
            f"start the interpreter without -S, {auto}",
        )
    elif not any(h["processed"] for h in hooks):
        user = [h for h in hooks if h.get("user_dir")]
        if user:
            why = "-I, -s, PYTHONNOUSERSITE or a virtual environment"
            diagnosis.blocked(
                f"the hook is in the user site directory, which site skips here ({why})",
                f"{python} -m {INSTALL} into the interpreter's own environment, {auto}",
            )
        else:
            where = os.path.dirname(hooks[0]["path"])
            diagnosis.blocked(
                f"{where} is not a site directory (on PYTHONPATH?): site runs no .pth file there",
                f"{python} -m {INSTALL}, {auto}",
            )


def _settings(diagnosis: Diagnosis, answer: "Dict[str, Any]") -> None:
    settings = answer.get("settings", {})
    variables = settings.get("variables", {})
    checked = settings.get("checked")
    enable = variables.get("SHIM_ENABLE")
    if enable is None:
        diagnosis.line("SHIM_ENABLE", "not set: start-up leaves os.system alone")
    elif checked and not settings.get("enabled"):
        diagnosis.line("SHIM_ENABLE", f"{enable['value']!r}: does not switch the shim on")
    else:
        diagnosis.line("SHIM_ENABLE", f"{enable['value']!r}: switches the shim on at start-up")
    for name, entry in sorted(variables.items()):
        if name == "SHIM_ENABLE" or name.startswith("SHIM_TEST_"):
            continue
        if not checked:
            verdict = "not checked (the package is not importable there)"
        elif entry.get("error"):
            verdict = f"not valid: {entry['error']}"
        elif not entry.get("known", True):
            verdict = "not a setting of this version: ignored"
        else:
            verdict = "valid"
        diagnosis.line(name, f"{entry['value']!r}: {verdict}")
    if not checked:
        return
    if not settings.get("enabled"):
        value = f"={enable['value']!r} does not switch it on" if enable else " is not set"
        diagnosis.blocked(
            f"SHIM_ENABLE{value}",
            "set SHIM_ENABLE=1 in the program's environment, or start it with 'shim run'",
        )
    for name, entry in sorted(variables.items()):
        if entry.get("error"):
            diagnosis.blocked(entry["error"], f"correct or unset {name}")


def _startup(diagnosis: Diagnosis, answer: "Dict[str, Any]", err: str) -> None:
    """What start-up did in the probe's own process, against what the checks predict."""
    state = answer.get("state")
    if not answer.get("package", {}).get("ours"):
        return
    if not answer.get("settings", {}).get("enabled"):
        diagnosis.line("start-up ran", "no: without SHIM_ENABLE it does nothing")
        return
    if state in ("armed", "active"):
        diagnosis.line("start-up ran", "the shim is armed: the first os.system call activates it")
        return
    said = " ".join(line.strip() for line in err.splitlines() if line.strip())
    if state is None:
        diagnosis.line("start-up ran", "no: the start-up hook did not run in the probe")
    else:
        diagnosis.line(
            "start-up ran", f"yes, and left the shim {state}" + (f": {said}" if said else "")
        )
    diagnosis.blocked(
        "start-up did not switch the shim on" + (f" ({said})" if said else ""),
        "see the lines above",
    )


def _platform(diagnosis: Diagnosis, answer: "Dict[str, Any]") -> None:
    platform = answer.get("platform", {})
    diagnosis.line("/bin/sh", str(platform.get("sh") or "none (not POSIX)"))
    libc = platform.get("libc")
    if libc and platform.get("known"):
        form = "sh -c -- command" if platform.get("passes_dashdash") else "sh -c command"
        libc = f"{libc}: system() runs {form}"
    diagnosis.line("C library", str(libc or "not glibc"))
    if not platform.get("known"):
        diagnosis.line("shell-free", "unknown (the package is not importable there)")
    elif platform.get("shell_free_reason"):
        diagnosis.line(
            "shell-free",
            f"not available: {platform['shell_free_reason']} "
            "(SHIM_SHELL=auto keeps /bin/sh for every command; never refuses none by syntax alone)",
        )
    else:
        diagnosis.line(
            "shell-free",
            f"available ({platform.get('shell') or '/bin/sh'}): SHIM_SHELL=auto runs commands"
            " without /bin/sh where that changes nothing",
        )


# -- shim run: is the program a Python? --------------------------------------------------


def python_of(
    program: "Sequence[str]", environ: "Mapping[str, str]"
) -> "Optional[Tuple[str, List[str]]]":
    """The interpreter ``program`` starts, and its start-up options, or ``None`` if not Python.

    ``program`` is a Python interpreter (``python3 -S app.py``), or a script
    whose ``#!`` line names one (``#!/usr/bin/env python3``, a console
    script of a virtual environment).
    """
    path = shutil.which(program[0], path=environ.get("PATH", os.defpath))
    if path is None:
        return None
    if _PYTHON_NAME.fullmatch(os.path.basename(path)):
        return path, _startup_options(program[1:])
    words = _shebang(path)
    if not words:
        return None
    if os.path.basename(words[0]) == "env":
        # env's own options (-S splits the line) and assignments, then the
        # interpreter and its options.
        words = words[1:]
        while words and (words[0].startswith("-") or "=" in words[0]):
            words.pop(0)
        if not words:
            return None
        found = shutil.which(words[0], path=environ.get("PATH", os.defpath))
        if found is None:
            return None
        words[0] = found
    if not _PYTHON_NAME.fullmatch(os.path.basename(words[0])):
        return None
    return words[0], _startup_options(words[1:])


def _shebang(path: str) -> "List[str]":
    try:
        with open(path, "rb") as f:
            first = f.readline(512)
    except OSError:
        return []
    if not first.startswith(b"#!"):
        return []
    return os.fsdecode(first[2:]).split()


def _startup_options(arguments: "Sequence[str]") -> "List[str]":
    """The options among ``arguments`` (before the script) that change what start-up sees."""
    letters = []  # type: List[str]
    words = list(arguments)
    while words:
        word = words.pop(0)
        if not word.startswith("-") or word in ("-", "--"):
            break
        if word.startswith("--"):
            continue  # --version, --help...: nothing start-up depends on
        for index, letter in enumerate(word[1:], start=1):
            if letter in "cm":
                return _flags(letters)  # the rest is the code or the module's name
            if letter in "WX":
                if index == len(word) - 1 and words:
                    words.pop(0)  # its value is the next word
                break  # or the rest of this one
            if letter in _STARTUP_FLAGS:
                letters.append(letter)
    return _flags(letters)


def _flags(letters: "List[str]") -> "List[str]":
    return [f"-{''.join(dict.fromkeys(letters))}"] if letters else []
