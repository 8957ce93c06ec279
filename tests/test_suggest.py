"""The suggested ``subprocess`` replacement: valid Python that gives os.system's status back."""

import ast
import json
import os
import subprocess
import sys
from typing import List, Optional, Tuple, Union

import pytest
from hypothesis import given
from hypothesis import strategies as st
from shim._common import suggest as _suggest
from shim._common import syntax as _shell

from assumptions import needs_tools
from conftest import child_env

# Commands whose os.system status covers each case of the wait-status
# arithmetic: success, failures, the shell killed by a signal, a shell
# feature, no shell needed.
COMMANDS = [
    "true",
    "false",
    "exit 3",
    "sh -c 'exit 7'",
    "kill -TERM $$",
    "ls / > /dev/null",
    "ls /nonexistent-directory 2> /dev/null",
    "test -d /",
]


def _argv(command: str) -> Optional[List[str]]:
    analysis = _shell.analyze(os.fsencode(command))
    return None if analysis.argv is None else [os.fsdecode(arg) for arg in analysis.argv]


def _split(suggestion: str) -> Tuple[str, str]:
    code, _, comment = suggestion.partition("  # ")
    return code, comment


def test_suggestion_gives_back_the_status_of_os_system() -> None:
    """Evaluating the suggestion and applying its hint gives exactly what os.system returned."""
    cases = [(command, _suggest.suggestion(command, _argv(command))) for command in COMMANDS]
    formula = _suggest.STATUS_HINT.split(": ", 1)[1]  # "rc << 8 if rc >= 0 else -rc"
    program = f"""
import json, os, subprocess, sys
cases = json.loads(sys.argv[1])
out = []
for command, suggestion in cases:
    status = os.system(command)
    code = suggestion.partition("  # ")[0]
    rc = eval(code)
    out.append([command, status, eval({formula!r}, {{"rc": rc}})])
print(json.dumps(out))
"""
    result = subprocess.run(
        [sys.executable, "-c", program, json.dumps(cases)],
        env=child_env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        check=True,
        universal_newlines=True,
    )
    for command, status, rebuilt in json.loads(result.stdout):
        assert rebuilt == status, command


def test_signal_of_a_program_run_without_shell_is_reported_as_failure_by_both() -> None:
    """A program killed by a signal: os.system reports what /bin/sh made of it, both say failure.

    /bin/sh waits for the program and exits 128 + signal (dash), or lets it
    replace itself (bash); ``returncode`` is minus the signal either way.
    """
    command = "sh -c 'kill -KILL $$'"
    suggestion = _suggest.suggestion(command, _argv(command))
    assert suggestion.startswith("subprocess.run(['sh', '-c', 'kill -KILL $$'], check=False)")
    program = f"""
import os, subprocess
print(os.system({command!r}), eval({_split(suggestion)[0]!r}))
"""
    result = subprocess.run(
        [sys.executable, "-c", program], env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True, universal_newlines=True
    )
    status, rc = (int(word) for word in result.stdout.split())
    assert rc == -9
    assert status in ((128 + 9) << 8, 9)


@pytest.mark.parametrize("command", COMMANDS)
def test_suggestion_is_one_line_of_valid_python(command: str) -> None:
    """The suggestion parses as Python, is one line, and ends with the status hint."""
    text = _suggest.suggestion(command, _argv(command))
    assert "\n" not in text
    ast.parse(text)
    code, comment = _split(text)
    assert comment == _suggest.STATUS_HINT[2:]
    call = ast.parse(code, mode="eval").body
    assert isinstance(call, ast.Attribute)
    assert call.attr == "returncode"


def test_suggestion_uses_argv_without_shell_and_shell_true_otherwise() -> None:
    """An argv list when the analysis found one; the command with shell=True when it did not."""
    code, _ = _split(_suggest.suggestion("ls -l", ["ls", "-l"]))
    assert code == "subprocess.run(['ls', '-l'], check=False).returncode"
    code, _ = _split(_suggest.suggestion("ls *.txt", None))
    assert code == "subprocess.run('ls *.txt', shell=True, check=False).returncode"


def test_expression_suggestion_keeps_the_shell() -> None:
    """A command that is not a literal keeps its expression and shell=True."""
    code, _ = _split(_suggest.expression_suggestion('"cp " + name'))
    assert code == 'subprocess.run("cp " + name, shell=True, check=False).returncode'


@given(st.one_of(st.text(), st.binary()), st.booleans())
def test_render_literal_round_trips(value: Union[str, bytes], double: bool) -> None:
    """Any str or bytes renders as a literal that evaluates back to the same value."""
    text = _suggest.render_literal(value, double_quotes=double)
    assert ast.literal_eval(text) == value
    assert type(ast.literal_eval(text)) is type(value)


@given(st.lists(st.text()), st.booleans())
def test_render_list_round_trips(items: List[str], double: bool) -> None:
    """A rendered argv list evaluates back to the same list."""
    assert ast.literal_eval(_suggest.render_list(items, double_quotes=double)) == items


def test_render_literal_prefers_double_quotes_when_asked() -> None:
    """Double quotes when asked and nothing needs escaping; repr's choice otherwise."""
    assert _suggest.render_literal("ls", double_quotes=True) == '"ls"'
    assert _suggest.render_literal(b"ls", double_quotes=True) == 'b"ls"'
    assert _suggest.render_literal("it's", double_quotes=True) == '"it\'s"'
    assert _suggest.render_literal('say "hi"', double_quotes=True) == "'say \"hi\"'"
    assert _suggest.render_literal("ls") == "'ls'"


@pytest.mark.parametrize(
    ("command", "mode"),
    [
        ("printf 'a\\nb\\n'", "r"),
        ("ls /", "r"),
        ("sh -c 'echo out; exit 2'", "r"),
        ("ls /nonexistent-directory 2>/dev/null", "r"),
        ("cat > /dev/null", "w"),
        ("sh -c 'cat > /dev/null; exit 3'", "w"),
    ],
)
@needs_tools  # the os.popen suggestion is shim scan's
def test_popen_suggestion_behaves_like_os_popen(command: str, mode: str) -> None:
    """The suggested Popen reads (or takes) what os.popen does, and its hint gives close()'s value."""
    argv = _argv(command)
    argument = _suggest.render_list(argv) if argv is not None else repr(command)
    suggestion = _suggest.popen_suggestion(argument, with_shell=argv is None, mode=mode)
    ast.parse(suggestion)
    code, comment = _split(suggestion)
    process_code, _, stream_name = code.rpartition(".")
    assert comment.endswith("None if rc == 0 else rc << 8")
    program = f"""
import os, subprocess, sys
command, mode = sys.argv[1], sys.argv[2]
plain = os.popen(command, mode)
process = eval({process_code!r})
fresh = getattr(process, {stream_name!r})
if mode == "r":
    print(repr(plain.read()) == repr(fresh.read()))
else:
    plain.write("data"); fresh.write("data")
    print(True)
fresh.close()
rc = process.wait()
print(plain.close() == (None if rc == 0 else rc << 8))
"""
    result = subprocess.run(
        [sys.executable, "-c", program, command, mode],
        env=child_env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        check=True,
        universal_newlines=True,
    )
    assert result.stdout.split() == ["True", "True"]
