"""Secrets never reach a published field, however the field is derived from the command.

The command is masked by the redaction rules; every other field that shows
the command in some form (the argv of a shell-free run, the suggested
replacement, the captured tails, the log record, the exception of
``shell="never"``) must be derived from the same masked spans, so that a
value masked in the command cannot come back through another field.
"""

import json
import logging
import os
import string
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

import pytest
import shim
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from shim._common import redact, syntax
from shim._common.redact import Redactor, compile_patterns
from shim._common.settings import Settings
from shim._runtime import warn
from shim._runtime.call import Call
from shim._runtime.capture import Captured
from shim._runtime.publish import record
from shim._runtime.session import Session

from test_shell_property import commands


def published(
    command: bytes,
    *,
    redact: Sequence[str] = (),
    shell: str = "auto",
    stdout: Optional[bytes] = None,
    stdout_bytes: Optional[int] = None,
    stdout_context: bytes = b"",
) -> Dict[str, Any]:
    """The audit record of ``command``, run without a shell when it can be, as the runtime builds it."""
    session = Session(Settings(shell=shell, redact=tuple(redact)))
    call = Call(command)
    call.status = 0
    analysis = syntax.analyze(command)
    if shell != "always" and analysis.argv is not None:
        call.argv = analysis.argv
        call.shell = False
    else:
        call.shell_reason = analysis.reason if shell != "always" else None
    if stdout is not None:
        captured = Captured()
        captured.stdout_tail = stdout
        captured.stdout_bytes = len(stdout) if stdout_bytes is None else stdout_bytes
        # Absent before the fix: the bytes that came before the tail.
        if stdout_context:
            captured.stdout_context = stdout_context  # type: ignore[attr-defined]
        call.captured = captured
    return record(call, session)


def strings_of(value: Any) -> Iterator[str]:
    """Every string inside a record (keys excluded)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_of(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings_of(item)


#: Fields that never derive from the command: a short secret made of digits
#: can appear in them by chance (a timestamp's microseconds, a pid).
UNRELATED = frozenset({"ts", "pid", "duration_ms"})


def leaks(data: Dict[str, Any], secret: str) -> List[str]:
    """The fields of ``data`` derived from the command that show ``secret``."""
    return [
        key
        for key, value in data.items()
        if key not in UNRELATED and any(secret in text for text in strings_of(value))
    ]


# --- the reported examples, in every mode ---------------------------------------------------

REPORTED = [
    # (extra patterns, command, what must not appear)
    (["--pin ([0-9]+)"], b"/bin/true --pin 1234", "1234"),
    (["--pin ([0-9]+)"], b"/bin/true --pin 1234 | cat", "1234"),
    ([], b'/bin/true --password="Alpha Bravo99"', "Bravo99"),
    ([], b"/bin/true --password='Alpha Bravo99'", "Bravo99"),
    ([], b"/bin/true --password=Alpha\\ Bravo99", "Bravo99"),
    ([], b'/bin/true "--password=Alpha Bravo99"', "Bravo99"),
    ([], b"/bin/true --token 'Alpha Bravo99' next", "Bravo99"),
    ([], b"curl -u 'admin:Alpha Bravo99' https://x", "Bravo99"),
    ([r"internal-\d+"], b"/bin/true 'internal-'42", "42"),
]


@pytest.mark.parametrize("shell", ["always", "auto", "never"])
@pytest.mark.parametrize(("patterns", "command", "secret"), REPORTED, ids=[r[1].decode() for r in REPORTED])
def test_masked_values_never_reach_derived_fields(
    patterns: List[str], command: bytes, secret: str, shell: str
) -> None:
    """What the redaction masks in the command is absent from argv, the suggestion and every other field."""
    data = published(command, redact=patterns, shell=shell)
    assert leaks(data, secret) == []
    assert "***" in data["command"]
    assert "***" in data["suggestion"]
    if data["argv"] is not None:
        assert any("***" in arg for arg in data["argv"])


def test_argv_keeps_what_is_not_secret() -> None:
    """Only the masked bytes are replaced: options, program and other arguments stay readable."""
    data = published(b'/bin/true --pin 1234 --password="A B" plain', redact=["--pin ([0-9]+)"])
    assert data["argv"] == ["/bin/true", "--pin", "***", "--password=***", "plain"]
    assert "['/bin/true', '--pin', '***', '--password=***', 'plain']" in data["suggestion"]
    assert data["command"] == "/bin/true --pin *** --password=*** plain"


def test_a_secret_found_only_in_the_argv_is_masked_in_the_command_too() -> None:
    """The rules for argument lists see words the command rules may miss; the command field follows them."""
    # A pattern matching the words as the program receives them (quotes removed).
    data = published(b"/bin/true --pin 'qx''zw'", redact=["--pin ([a-z]+)"])
    assert leaks(data, "qx") == leaks(data, "zw") == []


# --- the property behind them ---------------------------------------------------------------

SECRET = st.text(alphabet=string.ascii_letters + string.digits + "!%+,-./:@^_~#[]{}=?*", min_size=6, max_size=16)
QUOTING = st.sampled_from(["plain", "single", "double", "backslash", "split"])
TEMPLATES = [
    # (template with {} for the quoted secret, extra patterns)
    ("/bin/true --password={}", []),
    ("/bin/true --password {} next", []),
    ("/bin/true --api-key={} x", []),
    ("/usr/bin/env DB_TOKEN={} /bin/true", []),
    ("DB_PASSWORD={} ./run", []),
    ("mysql -p{} db", []),
    ("curl -u admin:{} https://h/", []),
    ("git clone https://bob:{}@example.com/r.git", []),
    ("/bin/true --pin {} end", [r"--pin (\S+)"]),
    ("/bin/true --pin {} end", [r"--pin '([^']*)'"]),
    ("/bin/true --pin {} end", [r"(?<=--pin )\S+"]),
    ("/bin/true --pin {} | cat", [r"--pin (\S+)"]),
]


def quote(secret: str, style: str) -> str:
    if style == "single":
        return f"'{secret}'"
    if style == "double":
        return '"' + secret.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if style == "backslash":
        return "".join("\\" + c for c in secret)
    if style == "split":
        middle = len(secret) // 2
        return f"{secret[:middle]}'{secret[middle:]}'"
    return secret


@settings(max_examples=300, deadline=None)
@given(secret=SECRET, style=QUOTING, template=st.sampled_from(TEMPLATES), shell=st.sampled_from(["always", "auto"]))
def test_property_no_field_shows_a_masked_value(
    secret: str, style: str, template: Any, shell: str
) -> None:
    """For any value, quoting and rule: once masked in the command, absent from every field."""
    text, patterns = template
    command = text.format(quote(secret, style))
    # The value must be something only the secret can contribute.
    assume(secret not in text.format(""))
    assume(all(part not in text for part in (secret[:4], secret[-4:])))
    if "://" in text:
        # In a URL these end the password (they must be percent-encoded in it).
        assume(not set(secret) & set("@/?#"))
    data = published(command.encode(), redact=patterns, shell=shell)
    # Nor something the record holds anyway ("stem" is in "os.system's status").
    baseline = " ".join(strings_of(published(text.format("").encode(), shell=shell)))
    assume(all(piece not in baseline for piece in (secret, secret[:4], secret[-4:])))
    if "***" not in data["command"]:
        # A quoting the rule does not read as one value (an unquoted '#'
        # starts a comment, say): not this property's business.
        assume(False)
    for piece in (secret, secret[:4], secret[-4:]):
        assert leaks(data, piece) == [], (command, data)


@settings(max_examples=1000, deadline=None)
@given(commands)
def test_property_every_word_is_traced_to_the_command(command: bytes) -> None:
    """Each byte of each word of a shell-free command is traced to the byte of the command it comes from."""
    argv = syntax.analyze(command).argv
    assume(argv is not None)
    assert argv is not None
    sources = redact._word_sources(command, argv)
    assert sources is not None
    # So a mask over the whole command hides every word, whatever its quoting.
    masked = Redactor(compile_patterns([r"(?s).+"])).call(command, argv)
    assert masked.command == "***"
    assert masked.argv == ["***" if word else "" for word in argv]


# --- captured output --------------------------------------------------------------------------


def test_tails_do_not_show_the_commands_secrets() -> None:
    """A value masked in the command is also masked where the command printed it."""
    data = published(
        b"DB_PASSWORD=hunter2xyz sh -c 'echo connecting with $DB_PASSWORD'",
        stdout=b"connecting with hunter2xyz\nok\n",
    )
    assert leaks(data, "hunter2xyz") == []
    assert data["stdout_tail"] == "connecting with ***\nok\n"


def test_tail_cut_right_after_the_name() -> None:
    """A tail that starts just after ``NAME=`` (the name fell off the front) keeps no value."""
    data = published(
        b"./deploy",
        stdout=b"s3cr3tvalue rest of the line\nnext line\n",
        stdout_bytes=1000,
        stdout_context=b"x" * 100 + b"\nexport API_TOKEN=",
    )
    assert leaks(data, "s3cr3tvalue") == []
    assert data["stdout_tail"] == "*** rest of the line\nnext line\n"


def test_tail_cut_in_the_middle_of_a_value() -> None:
    """A tail that starts inside a secret value masks the rest of that value."""
    data = published(
        b"./deploy",
        stdout=b"cr3tvalue\nok\n",
        stdout_bytes=1000,
        stdout_context=b"line\nTOKEN=s3",
    )
    assert leaks(data, "cr3tvalue") == []
    assert data["stdout_tail"] == "***\nok\n"


# --- the log record and the exception -----------------------------------------------------------


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def log_records() -> Iterator[List[logging.LogRecord]]:
    logger = logging.getLogger("shim")
    handler = ListHandler()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.records
    shim.uninstall()
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.mark.parametrize("shell", ["always", "auto"])
def test_log_record_message_and_extra(log_records: List[logging.LogRecord], shell: str) -> None:
    """The log message and every ``extra`` field are masked the same way as the audit record."""
    shim.install(shell=shell, redact=["--pin ([0-9]+)"])
    assert os.system("/bin/true --pin 1234 --password='Alpha Bravo99'") == 0
    (entry,) = log_records
    text = entry.getMessage() + json.dumps(
        {key: value for key, value in vars(entry).items() if key.startswith("shim")}, default=repr
    )
    assert "1234" not in text
    assert "Bravo99" not in text


def test_shell_required_error_is_masked(tmp_path: Path) -> None:
    """shell="never": the exception's message, ``command`` and arguments carry the masked command."""
    shim.install(shell="never", redact=["--pin ([0-9]+)"])
    with pytest.raises(shim.ShellRequiredError) as info:
        os.system("/bin/true --pin 1234 --password='Alpha Bravo99' | cat")
    error = info.value
    for text in (str(error), repr(error), error.command, repr(error.args)):
        assert "1234" not in text
        assert "Bravo99" not in text
    assert error.command == "/bin/true --pin *** --password=*** | cat"
    assert error.reason == "pipe"


# --- refused calls are audited ------------------------------------------------------------------


@pytest.fixture
def quiet_warnings() -> Iterator[None]:
    saved = set(warn._ONCE.keys)
    yield
    warn._ONCE.keys.clear()
    warn._ONCE.keys.update(saved)


def test_refused_call_leaves_a_record(tmp_path: Path, quiet_warnings: None) -> None:
    """A call refused in never mode is audited: outcome "refused", the reason, masked, and no status."""
    audit = tmp_path / "audit.jsonl"
    shim.install(shell="never", audit=str(audit), redact=["--pin ([0-9]+)"])
    with pytest.raises(shim.ShellRequiredError):
        os.system("touch ran.txt --pin 1234 | cat")  # REFUSED
    line = __import__("sys")._getframe().f_lineno - 1
    assert os.system("/bin/true") == 0
    shim.uninstall()
    refused, ran = (json.loads(text) for text in audit.read_text().splitlines())
    assert refused["outcome"] == "refused"
    assert refused["shell_reason"] == "pipe"
    assert refused["shell"] is False
    assert refused["argv"] is None
    assert refused["status"] is None
    assert refused["exit_code"] is None
    assert refused["signal"] is None
    assert refused["command"] == "touch ran.txt --pin *** | cat"
    assert "1234" not in json.dumps(refused)
    assert refused["site"] == {"file": __file__, "line": line, "function": "test_refused_call_leaves_a_record"}
    assert ran["outcome"] == "ran"
    assert ran["status"] == 0


def test_refused_program_not_found_leaves_a_record(tmp_path: Path, quiet_warnings: None) -> None:
    """A program that only the shell could report (not found) is refused and audited with that reason."""
    audit = tmp_path / "audit.jsonl"
    shim.install(shell="never", audit=str(audit))
    with pytest.raises(shim.ShellRequiredError):
        os.system("no_such_program_for_the_refusal_test --token=abcd1234")
    shim.uninstall()
    (refused,) = (json.loads(text) for text in audit.read_text().splitlines())
    assert refused["outcome"] == "refused"
    assert refused["shell_reason"] == "program not found on PATH"
    assert "abcd1234" not in json.dumps(refused)


def test_refused_call_is_logged(log_records: List[logging.LogRecord]) -> None:
    """A refused call emits one log record saying so, masked, with no status."""
    shim.install(shell="never", redact=["--pin ([0-9]+)"])
    with pytest.raises(shim.ShellRequiredError):
        os.system("/bin/true --pin 1234 | cat")
    (entry,) = log_records
    message = entry.getMessage()
    assert message.startswith("os.system('/bin/true --pin *** | cat') refused (needs a shell: pipe) after ")
    assert entry.shim_status is None  # type: ignore[attr-defined]
    assert entry.shim["outcome"] == "refused"  # type: ignore[attr-defined]
