"""What dash, bash and BusyBox ash hand a program they run, against what shim computes.

Every installed shell among them (``/bin/sh`` or not: the chroots of the
platform matrix have all three) runs ``sh -c PROGRAM`` the way
``system(3)`` starts it (``argv[0]`` is ``sh``), with a given environment
and working directory, and ``/usr/bin/env -0`` reports the environment it
received, in order.  ``shellfree.program_environment`` must give exactly
that, or a reason to leave the command to the shell; ``shellfree.plan``'s
other answers (fork or exec, the signal state) are checked the same way.

The seed of the generated environments is printed on failure;
``SHIM_TEST_SEED=<n>`` replays a run.
"""

import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import pytest
from shim._common import platform
from shim._runtime import shellfree

ENV = b"/usr/bin/env"
ROOT = Path(__file__).resolve().parent.parent


def _installed() -> Dict[str, platform.Shell]:
    """What each installed shell shim reproduces is, by kind; its path is in ``PATHS``."""
    found = {}
    for name in ("dash", "bash", "busybox", "sh"):
        path = shutil.which(name)
        if path is None:
            continue
        path = os.path.realpath(path)
        shell = platform._identify(os.fsencode(path))
        if platform.shell_free_reason(shell) is None and shell.kind not in found:
            found[shell.kind] = shell
            PATHS[shell.kind] = path
    return found


PATHS: Dict[str, str] = {}
IDENTIFIED = _installed()
SHELLS = sorted(PATHS.items())
pytestmark = [
    pytest.mark.skipif(not SHELLS, reason="none of dash, bash and BusyBox ash is installed"),
    pytest.mark.skipif(not os.path.exists(ENV), reason="needs /usr/bin/env"),
]
shells = pytest.mark.parametrize(("kind", "shell"), SHELLS or [("none", "")], ids=[k for k, _ in SHELLS] or ["none"])


def run_shell(
    shell: str, command: bytes, environ: Dict[bytes, bytes], cwd: Path
) -> "subprocess.CompletedProcess[bytes]":
    """``sh -c command`` with ``shell``, as system(3) starts it."""
    return subprocess.run(
        [b"sh", b"-c", command],
        executable=shell,
        env=environ,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        timeout=30,
        check=False,
    )


def listing(out: bytes) -> List[Tuple[bytes, bytes]]:
    """``env -0``'s output as ``(name, value)`` pairs, in order."""
    return [tuple(entry.split(b"=", 1)) for entry in out.split(b"\0")[:-1]]  # type: ignore[misc]


def check(
    kind: str, shell: str, environ: Dict[bytes, bytes], cwd: Path, *, via_path: bool = False
) -> Union[str, None]:
    """Compare the shell with the model for one environment; return the model's reason, if any."""
    program = b"env" if via_path else ENV
    here = os.getcwd()
    os.chdir(cwd)
    try:
        executable = shellfree.locate(program, environ.get(b"PATH"), kind)
        assert executable is not None
        expected = shellfree.program_environment(IDENTIFIED[kind], environ, executable)
    finally:
        os.chdir(here)
    if isinstance(expected, str):
        return expected
    proc = run_shell(shell, program + b" -0", environ, cwd)
    assert (proc.returncode, proc.stderr) == (0, b""), (kind, environ, proc.stderr)
    assert listing(proc.stdout) == list(expected.items()), (kind, list(environ.items()))
    return None


@pytest.fixture
def places(tmp_path: Path) -> Dict[str, Path]:
    """A working directory, a symbolic link to it, another directory and a file."""
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    other = tmp_path / "other"
    other.mkdir()
    plain = tmp_path / "file"
    plain.write_text("")
    return {"real": real, "link": link, "other": other, "file": plain}


def _seed() -> int:
    value = os.environ.get("SHIM_TEST_SEED")
    return int(value) if value else random.SystemRandom().randrange(2**32)


# Names an environment has, names some shell keeps itself (a shell's own
# variables are ordered apart from the others), names that share hash
# chains, and names that are not shell names.
_POOL = [
    b"HOME", b"USER", b"LOGNAME", b"LANG", b"LANGUAGE", b"TERM", b"SHELL", b"MAIL", b"MAILPATH",
    b"LC_ALL", b"LC_CTYPE", b"LC_MESSAGES", b"HOSTNAME", b"EDITOR", b"PAGER", b"DISPLAY", b"TZ",
    b"XDG_RUNTIME_DIR", b"SSH_AUTH_SOCK", b"TMPDIR", b"OLDPWD", b"SHLVL", b"_", b"PS1", b"PS2",
    b"ENV", b"CDPATH", b"HISTFILE", b"HISTSIZE", b"COLUMNS", b"LINES", b"MAILCHECK", b"TMOUT",
    b"HOSTTYPE", b"OSTYPE", b"MACHTYPE", b"PYTHONPATH", b"VIRTUAL_ENV", b"A-B", b"1X", b"a.b",
    b"x y", b"%",
]  # fmt: skip
# Each of these is a reason for one of the shells: at most one per environment.
_RARE = [b"FUNCNAME", b"LINENO", b"RANDOM", b"SECONDS", b"EPOCHSECONDS", b"EPOCHREALTIME", b"IFS", b"PPID"]
_VALUES = [b"v", b"", b"1", b"/tmp", b"a=b", b"  x  ", b"\xc3\xa9", b"-5", b"C.UTF-8"]


def _environment(rng: random.Random, places: Dict[str, Path]) -> Dict[bytes, bytes]:
    names = rng.sample(_POOL, rng.randrange(len(_POOL) // 2))
    if rng.random() < 0.2:
        names.append(rng.choice(_RARE))
    names += [
        bytes(rng.choice(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ_abc0") for _ in range(rng.randrange(1, 4)))
        for _ in range(rng.randrange(30))
    ]
    names.append(b"PATH")
    rng.shuffle(names)
    environ = {name: rng.choice(_VALUES) for name in names}
    environ[b"PATH"] = b"/usr/bin:/bin"
    if b"LC_ALL" in environ:
        environ[b"LC_ALL"] = rng.choice([b"C", b"C.UTF-8", b"POSIX", b""])
    if b"OLDPWD" in environ:
        environ[b"OLDPWD"] = rng.choice([os.fsencode(places["other"]), os.fsencode(places["file"]), b""])
    real = os.fsencode(places["real"])
    pwd = rng.choice(
        [real, os.fsencode(places["link"]), real + b"/", real + b"/.", b"/", b"real", b"", None, None]
    )
    if pwd is not None:
        environ[b"PWD"] = pwd
    return environ


@shells
def test_generated_environments(kind: str, shell: str, places: Dict[str, Path]) -> None:
    """For hundreds of environments the program gets exactly what the model says, in order.

    A fair share of them must be reproduced, not left to the shell.
    """
    run_seed = _seed()
    print(f"seed {run_seed} (replay with SHIM_TEST_SEED={run_seed})")
    rng = random.Random(run_seed)
    reproduced = 0
    examples = 150
    for _ in range(examples):
        environ = _environment(rng, places)
        if check(kind, shell, environ, places["real"], via_path=rng.random() < 0.5) is None:
            reproduced += 1
    assert reproduced >= examples // 2


@shells
@pytest.mark.parametrize(
    "pwd",
    ["@REAL@", "@LINK@", "@REAL@/", "@REAL@/.", "@REAL@//", "/@REAL@", "@REAL@/../real", "@LINK@/", "/", "real", "", None],
)
def test_pwd(kind: str, shell: str, places: Dict[str, Path], pwd: Optional[str]) -> None:
    """PWD is kept when it names the working directory, else the physical one; never a reason."""
    environ = {b"PATH": b"/usr/bin:/bin", b"HOME": b"/root"}
    if pwd is not None:
        value = pwd.replace("@REAL@", str(places["real"])).replace("@LINK@", str(places["link"]))
        environ[b"PWD"] = os.fsencode(value)
    assert check(kind, shell, environ, places["real"]) is None


@shells
def test_pwd_from_a_symbolic_link(kind: str, shell: str, places: Dict[str, Path]) -> None:
    """Started in a directory reached through a link, without PWD: the physical name."""
    environ = {b"PATH": b"/usr/bin:/bin"}
    assert check(kind, shell, environ, places["link"]) is None


_SHLVL = [
    None, b"", b"0", b"5", b"-3", b"-1", b" 7 ", b"\t3", b"+4", b"05", b"998", b"999", b"1000",
    b"abc", b"5a", b"0x10", b"99999999999999999999", b"-99999999999", b"2147483646", b"2147483647",
    b"4294967295",
]  # fmt: skip


@shells
@pytest.mark.parametrize("value", _SHLVL, ids=[repr(v) for v in _SHLVL])
def test_shlvl(kind: str, shell: str, places: Dict[str, Path], value: Optional[bytes]) -> None:
    """SHLVL as each shell passes it on, or a reason where the shell would warn."""
    environ = {b"PATH": b"/usr/bin:/bin", b"PWD": os.fsencode(places["real"])}
    if value is not None:
        environ[b"SHLVL"] = value
    reason = check(kind, shell, environ, places["real"])
    if reason is not None:
        assert kind != "dash"
        proc = run_shell(shell, ENV + b" -0", environ, places["real"])
        # Left to the shell where bash would warn or wrap its int, or where
        # atoi() would overflow (ash).
        number = int(value.strip()) if value and value.strip().lstrip(b"+-").isdigit() else 0
        assert proc.stderr or kind == "busybox" or number >= 999, reason


@shells
@pytest.mark.parametrize("where", ["other", "file", "missing", "empty", "dot", "link"])
def test_oldpwd(kind: str, shell: str, places: Dict[str, Path], where: str) -> None:
    """OLDPWD is passed on, except by bash when it does not name a directory."""
    value = {
        "other": os.fsencode(places["other"]),
        "file": os.fsencode(places["file"]),
        "missing": os.fsencode(places["other"]) + b"/missing",
        "empty": b"",
        "dot": b".",
        "link": os.fsencode(places["link"]),
    }[where]
    environ = {b"PATH": b"/usr/bin:/bin", b"OLDPWD": value}
    assert check(kind, shell, environ, places["real"]) is None


@shells
@pytest.mark.parametrize("value", [b"C", b"POSIX", b"C.UTF-8", b"", b"bogus", b"xx_YY.UTF-8", b"C.UTF-8@x"])
@pytest.mark.parametrize("name", [b"LC_ALL", b"LANG", b"LC_CTYPE", b"LC_MESSAGES"])
def test_locale(kind: str, shell: str, places: Dict[str, Path], name: bytes, value: bytes) -> None:
    """A locale the shell cannot load: a reason exactly where the shell would warn."""
    environ = {b"PATH": b"/usr/bin:/bin", name: value}
    reason = check(kind, shell, environ, places["real"])
    warns = bool(run_shell(shell, ENV + b" -0", environ, places["real"]).stderr)
    assert (reason is not None) == warns, reason


def _own_variables(kind: str, shell: str) -> List[bytes]:
    """The names the shell itself sets, as it lists them in an empty environment."""
    command = b"compgen -v" if kind == "bash" else b"set"
    out = subprocess.run([b"sh", b"-c", command], executable=shell, env={}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False).stdout
    if kind == "bash":
        return out.split()
    return [line.split(b"=", 1)[0] for line in out.splitlines() if b"=" in line]


# Variables shells act on at start-up without setting them.
_SPECIAL = b"""
BASH_ENV ENV EXECIGNORE POSIXLY_CORRECT SHELLOPTS BASHOPTS BASH_COMPAT BASH_XTRACEFD BASH_LOADABLES_PATH
BASH_FUNC_date%% BASH_FUNC_x CDPATH GLOBIGNORE GLOBSORT FUNCNEST HISTCONTROL HISTFILE HISTFILESIZE
HISTIGNORE HISTSIZE HISTTIMEFORMAT HOSTFILE IGNOREEOF INPUTRC LANG LANGUAGE LC_ALL LC_COLLATE LC_CTYPE
LC_MESSAGES LC_NUMERIC LC_TIME MAIL MAILCHECK MAILPATH OPTERR PROMPT_COMMAND PROMPT_DIRTRIM PS0 PS1 PS2
PS3 PS4 TERM TERMCAP TERMINFO TEXTDOMAIN TEXTDOMAINDIR TIMEFORMAT TMOUT TMPDIR TZ auto_resume histchars
COLUMNS LINES COPROC SRANDOM EPOCHSECONDS EPOCHREALTIME BASH_ARGV0 BASH_MONOSECONDS BASHPID HOSTNAME HOME
SHELL USER LOGNAME OLDPWD SHLVL _ IFS OPTIND PPID RANDOM SECONDS LINENO FUNCNAME HISTCMD UID EUID GROUPS
DIRSTACK PIPESTATUS COMP_WORDBREAKS MACHTYPE HOSTTYPE OSTYPE OPTARG REPLY CHILD_MAX
""".split()


@shells
@pytest.mark.parametrize("value", [b"v", b"", b"1", b"/tmp", b"() { echo function; }"])
def test_every_variable_the_shells_know(kind: str, shell: str, places: Dict[str, Path], value: bytes) -> None:
    """Each variable any of the shells sets or reads: reproduced exactly, or left to the shell."""
    names = sorted(set(_own_variables(kind, shell)) | set(_SPECIAL))
    assert len(names) > 20
    left = []
    for name in names:
        if name in (b"PATH", b"PWD"):
            continue
        environ = {b"PATH": b"/usr/bin:/bin", b"PWD": os.fsencode(places["real"]), b"HOME": b"/root", name: value}
        reason = check(kind, shell, environ, places["real"])
        if reason is not None:
            left.append(name)
    # The variables of an ordinary environment are reproduced everywhere.
    assert not {b"HOME", b"LANG", b"TERM", b"MAIL", b"OLDPWD", b"SHLVL", b"_", b"PS1", b"USER"} & set(left)


@shells
@pytest.mark.parametrize(
    "path",
    [b"/usr/bin", b"/usr/bin/", b"/usr//bin", b"@BIN@", b"@BIN@/", b"rel", b"rel/", b":/usr/bin", b".:/usr/bin", b"/nonexistent:/usr/bin"],
)
def test_program_found_on_path(kind: str, shell: str, places: Dict[str, Path], path: bytes) -> None:
    """The file found on PATH, and bash's ``_``, are the shell's, however PATH names directories."""
    real = places["real"]
    (real / "rel").mkdir()
    for directory in (real, real / "rel"):
        (directory / "env").symlink_to(os.fsdecode(ENV))
    path = path.replace(b"@BIN@", os.fsencode(real / "rel"))
    environ = {b"PATH": path, b"PWD": os.fsencode(real)}
    assert check(kind, shell, environ, real, via_path=True) is None


@shells
def test_locate_finds_what_the_shell_executes(kind: str, shell: str, tmp_path: Path) -> None:
    """Whenever the file shim finds can be executed, it is the one the shell executes."""
    layouts = {
        "not executable, then a program": [("file", 0o644), ("prog", 0o755)],
        "directory, then a program": [("dir", 0), ("prog", 0o755)],
        "script without #!, then a program": [("script", 0o755), ("prog", 0o755)],
        "a program, then another": [("prog", 0o755), ("prog", 0o755)],
        "a fifo, then a program": [("fifo", 0o755), ("prog", 0o755)],
    }
    for label, layout in layouts.items():
        base = tmp_path / label.replace(" ", "_").replace(",", "")
        dirs = []
        for i, (what, mode) in enumerate(layout):
            d = base / str(i)
            d.mkdir(parents=True)
            dirs.append(d)
            target = d / "tool"
            if what == "dir":
                target.mkdir()
            elif what == "fifo":
                os.mkfifo(target)
                target.chmod(mode)
            else:
                body = f"echo from-{i}\n" if what == "script" else f"#!/bin/sh\necho from-{i}\n"
                target.write_text(body)
                target.chmod(mode)
        path = b":".join(os.fsencode(d) for d in dirs)
        found = shellfree.locate(b"tool", path, kind)
        assert found is not None, label
        executable = stat.S_ISREG(os.stat(found).st_mode) and os.access(found, os.X_OK)
        if executable and Path(os.fsdecode(found)).read_bytes()[:2] == b"#!":
            proc = run_shell(shell, b"tool", {b"PATH": path}, tmp_path)
            index = os.fsdecode(found).split(os.sep)[-2]
            assert proc.stdout == f"from-{index}\n".encode(), label


_SIGNAL_PROBE = textwrap.dedent(
    """
    import os, signal, subprocess, sys
    from shim._runtime import shellfree
    kind, shell = sys.argv[1], sys.argv[2]
    grep = [b"/bin/grep", b"-E", b"^Sig(Blk|Ign)", b"/proc/self/status"]
    def lines(argv, executable=None):
        out = subprocess.run(argv, executable=executable, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True, restore_signals=False).stdout
        return sorted(l.split()[1] for l in out.splitlines())
    glibc_internal = (1 << 31) | (1 << 32)
    def masked(values):
        return [int(v, 16) & ~glibc_internal for v in values]
    problems = []
    skip = {signal.SIGKILL, signal.SIGSTOP}
    every = signal.valid_signals() if hasattr(signal, "valid_signals") else range(1, signal.NSIG)  # 3.6, 3.7
    for sig in sorted(set(every) - skip):
        for state in ("block", "ignore"):
            if state == "block":
                signal.pthread_sigmask(signal.SIG_BLOCK, {sig})
            else:
                try:
                    old = signal.signal(sig, signal.SIG_IGN)
                except (OSError, ValueError):
                    continue
            try:
                answer = shellfree._signal_reason(kind, held=True)
                via_shell = masked(lines([b"sh", b"-c", b"/bin/grep -E '^Sig(Blk|Ign)' /proc/self/status"], shell))
                quit_old = None
                if answer is True:
                    quit_old = signal.signal(signal.SIGQUIT, signal.SIG_IGN)
                try:
                    direct = masked(lines(grep))
                finally:
                    if quit_old is not None:
                        signal.signal(signal.SIGQUIT, quit_old)
            finally:
                if state == "block":
                    signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
                else:
                    signal.signal(sig, old)
            differs = sorted(via_shell) != sorted(direct)
            if isinstance(answer, str) != differs:
                problems.append((int(sig), state, answer, via_shell, direct))
    print(problems)
    """
)


@shells
def test_signal_state(kind: str, shell: str) -> None:
    """For every signal blocked or ignored in the caller: a reason exactly where the program would see another state.

    (BusyBox's ignored SIGQUIT is reproduced, not a reason.)
    """
    if not os.path.exists("/proc/self/status") or not os.path.exists("/bin/grep"):
        pytest.skip("needs /proc and /bin/grep")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", _SIGNAL_PROBE, kind, shell], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@shells
def test_fork_or_exec_and_the_status(kind: str, shell: str, tmp_path: Path) -> None:
    """dash runs the program as its child and reports a signal as 128 + n; bash and ash exec it."""
    program = tmp_path / "selfkill"
    program.write_text(f"#!{sys.executable}\nimport os, signal\nprint(os.getpid(), flush=True)\nos.kill(os.getpid(), signal.SIGTERM)\n")
    program.chmod(0o755)
    proc = subprocess.Popen([b"sh", b"-c", os.fsencode(program)], executable=shell, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    snapshot = shellfree.Snapshot(((b"PATH", b"/usr/bin:/bin"),))
    launch = shellfree.plan([os.fsencode(program)], IDENTIFIED[kind], snapshot, held=True)
    assert isinstance(launch, shellfree.Launch)
    forked = int(out) != proc.pid
    assert launch.waits == forked
    if forked:
        assert (proc.returncode << 8, err) == shellfree.shell_status(signal.SIGTERM)
    else:
        assert (proc.returncode, err) == (-signal.SIGTERM, b"")


@shells
def test_identified_by_contents(kind: str, shell: str, tmp_path: Path) -> None:
    """A shell is told by what the file is, whatever it is called."""
    disguised = tmp_path / ("dash" if kind != "dash" else "bash")
    shutil.copy(os.path.realpath(shell), disguised)
    assert platform._identify(os.fsencode(disguised)).kind == kind


def test_unknown_files_are_not_shells(tmp_path: Path) -> None:
    """A script, a program that is not a shell and a missing file are unknown."""
    script = tmp_path / "sh"
    script.write_text('#!/bin/bash\nexec bash "$@"\n')
    for path in (script, Path(sys.executable).resolve(), tmp_path / "missing"):
        found = platform._identify(os.fsencode(path))
        assert found.kind == "" and found.text.startswith("unknown"), found
        assert platform.shell_free_reason(found) is not None


def test_a_replaced_shell_is_noticed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When /bin/sh is pointed at another shell while the program runs, the next call sees it."""
    kinds = dict(SHELLS)
    if len(kinds) < 2:
        pytest.skip("needs two of dash, bash and BusyBox ash")
    link = tmp_path / "sh"
    monkeypatch.setattr(platform, "SHELL_PATH", os.fsencode(link))
    # What the real /bin/sh is stays known to the other tests of this process.
    monkeypatch.setattr(platform, "_known", platform._known)
    seen = []
    for _kind, shell in SHELLS:
        if link.is_symlink():
            link.unlink()
        link.symlink_to(os.path.realpath(shell))
        seen.append(platform.shell().kind)
    assert seen == [kind for kind, _ in SHELLS]


@pytest.mark.skipif("busybox" not in PATHS, reason="no BusyBox ash of a version shim reproduces is installed (the trixie-busybox platform has one)")
def test_busybox_is_not_asked_while_the_program_handles_sigchld() -> None:
    """Asking BusyBox how it was built starts a child: not while the program would notice its SIGCHLD."""
    path = os.fsencode(PATHS["busybox"])
    old = signal.signal(signal.SIGCHLD, lambda *_: None)
    try:
        found = platform._identify(path)
    finally:
        signal.signal(signal.SIGCHLD, old)
    assert found.kind == "" and "SIGCHLD is handled" in found.text
    assert platform.shell_free_reason(found) is not None
    assert platform._identify(path).kind == "busybox"


@shells
def test_named_without_running_it(kind: str, shell: str) -> None:
    """``shell="always"`` names /bin/sh in audit records without starting a process: the same name."""
    found = platform._identify(os.fsencode(shell), ask=False)
    assert found.text == IDENTIFIED[kind].text
