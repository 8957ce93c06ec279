"""Redaction: what is masked in logs and audit records, and how a bad pattern is reported."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import List

import pytest
import shim
from hypothesis import given
from hypothesis import strategies as st
from shim._common.redact import MASK, Redactor, compile_patterns, secret_option

from conftest import characters, child_env

DEFAULT = Redactor()

COMMANDS = [
    # NAME=value words
    ("DB_PASSWORD=hunter2 ./run", "DB_PASSWORD=*** ./run"),
    ("export AWS_SECRET_ACCESS_KEY='a b c'; deploy", "export AWS_SECRET_ACCESS_KEY=***; deploy"),
    ("MYSQL_PWD=x mysql db", "MYSQL_PWD=*** mysql db"),
    ("make api_token=abc all", "make api_token=*** all"),
    ("java -Ddb.password=s3 -jar app.jar", "java -Ddb.password=*** -jar app.jar"),
    ("PATH=/bin:/usr/bin HOME=/root env", "PATH=/bin:/usr/bin HOME=/root env"),
    # long options
    ("tool --password=s3 --token t0 x", "tool --password=*** --token *** x"),
    ("tool --api-key 'a b' --client-secret=\"c d\" y", "tool --api-key *** --client-secret=*** y"),
    (
        "tool --password-file /etc/pw --no-password --verbose",
        "tool --password-file /etc/pw --no-password --verbose",
    ),
    ("openssl rsa -passin pass:foo -in key.pem", "openssl rsa -passin *** -in key.pem"),
    ("tool --password --token x", "tool --password *** ***"),
    # URLs and headers
    (
        "git clone https://bob:p%40ss@example.com/r.git",
        "git clone https://bob:***@example.com/r.git",
    ),
    ("git clone https://example.com/r.git", "git clone https://example.com/r.git"),
    (
        "curl -H 'Authorization: Bearer abc.def' https://x",
        "curl -H 'Authorization: Bearer ***' https://x",
    ),
    (
        'curl -H "X-Api-Key: k1" "https://h/?token=zz&page=2"',
        'curl -H "X-Api-Key: ***" "https://h/?token=***&page=2"',
    ),
    # short options, for the programs that take a password with them
    ("mysql -uroot -pS3cret db < dump.sql", "mysql -uroot -p*** db < dump.sql"),
    ("mysql -u root -p S3cret db", "mysql -u root -p *** db"),
    (
        "sudo -u bob /usr/bin/mysqldump '-pa b' db | gzip > out.gz",
        "sudo -u bob /usr/bin/mysqldump '-p***' db | gzip > out.gz",
    ),
    ("sshpass -p pw ssh host uptime", "sshpass -p *** ssh host uptime"),
    ("7z a -pSECRET out.7z files", "7z a -p*** out.7z files"),
    ("zip -P pw out.zip f && unzip -P pw2 out.zip", "zip -P *** out.zip f && unzip -P *** out.zip"),
    (
        "curl -u admin:pw https://x && curl --user=a:b y",
        "curl -u admin:*** https://x && curl --user=a:*** y",
    ),
    (
        "mkdir -p /tmp/build && ssh -p 22 host && cp -p a b",
        "mkdir -p /tmp/build && ssh -p 22 host && cp -p a b",
    ),
    ("echo $(mysql -pinner -e 'select 1')", "echo $(mysql -p*** -e 'select 1')"),
    # quoting around a value
    ('printf "hello token=abc"; echo done', 'printf "hello token=***"; echo done'),
    ("run --password=ab'cd ef' next", "run --password=*** next"),
    # nothing to hide
    ("ls -l /tmp | wc -l", "ls -l /tmp | wc -l"),
    ("", ""),
]


@pytest.mark.parametrize(("command", "expected"), COMMANDS)
def test_command_rules(command: str, expected: str) -> None:
    """The built-in rules mask exactly the secret values of a shell command."""
    assert DEFAULT.command(command) == expected


def test_secrets_are_reported() -> None:
    """The masked originals are handed back to the caller when asked for."""
    secrets: List[str] = []
    DEFAULT.command("A_TOKEN=t1 mysql -pp2 https://u:p3@h/", secrets)
    assert secrets == ["t1", "p2", "p3"]


ARGVS = [
    (["mysql", "-pX", "-p", "Y", "db"], ["mysql", "-p***", "-p", "***", "db"]),
    (
        ["tool", "--password", "Z", "--token=T", "plain"],
        ["tool", "--password", "***", "--token=***", "plain"],
    ),
    (
        ["env", "DB_TOKEN=1", "curl", "-u", "a:b", "https://u:p@h/"],
        ["env", "DB_TOKEN=***", "curl", "-u", "a:***", "https://u:***@h/"],
    ),
    (["mkdir", "-p", "/tmp/x"], ["mkdir", "-p", "/tmp/x"]),
    (["echo", "a b", "it's"], ["echo", "a b", "it's"]),
]


@pytest.mark.parametrize(("argv", "expected"), ARGVS)
def test_argv_rules(argv: List[str], expected: List[str]) -> None:
    """Argument lists are masked element by element; the element after a secret option is masked whole."""
    assert DEFAULT.argv(argv) == expected


def test_output_rules() -> None:
    """Captured output: assignments, headers, URLs and secret options are masked, the rest kept."""
    text = "login ok token=abc123, user=bob\nAuthorization: Basic QWxh\nfetch https://u:pw@h/x\n--password hunter2\n"
    assert DEFAULT.output(text) == (
        "login ok token=***, user=bob\nAuthorization: Basic ***\nfetch https://u:***@h/x\n--password ***\n"
    )


def test_secret_option_names() -> None:
    """Which option names take a secret as the next word."""
    for name in (
        "--password",
        "--db-password",
        "--token",
        "--api-key",
        "--client_secret",
        "-passin",
        "--dbpassword",
    ):
        assert secret_option(name), name
    for name in (
        "--password-file",
        "--no-password",
        "--key-file",
        "-p",
        "--passes",
        "--verbose",
        "--bypass",
    ):
        assert not secret_option(name), name


def test_extra_patterns_whole_match_or_groups() -> None:
    """An extra pattern without groups masks its match; with groups, only what the groups matched."""
    redactor = Redactor(compile_patterns([r"internal-\d+", r"--pin (\d+)(?:/(\d+))?"]))
    assert (
        redactor.command("x internal-42 --pin 1234/99 --pin 5") == "x *** --pin ***/*** --pin ***"
    )
    assert redactor.argv(["x", "internal-42"]) == ["x", "***"]
    assert redactor.output("id internal-7\n") == "id ***\n"


def test_empty_matches_mask_nothing() -> None:
    """A pattern that can match the empty string does not sprinkle masks everywhere."""
    redactor = Redactor(compile_patterns(["z*"]))
    assert redactor.command("abc zz d") == "abc *** d"


def test_bad_pattern_keyword_raises_value_error() -> None:
    """install(redact=[bad]) raises ValueError naming the setting and what it accepts; nothing is installed."""
    with pytest.raises(
        ValueError, match=r"^redact: '\(' is not a valid regular expression"
    ) as info:
        shim.install(redact=["ok", "("])
    assert "regular expressions" in str(info.value)
    assert isinstance(info.value, shim.ConfigError)
    assert not shim.is_installed()


def test_bad_pattern_in_environment_runs_unshimmed(tmp_path: Path) -> None:
    """SHIM_REDACT with a bad pattern: one line naming it on stderr, and the calls run as plain os.system."""
    code = textwrap.dedent(
        """
        import os, sys{enable}
        statuses = [os.system("exit 3"), os.system("true")]
        sys.stdout.write(repr(statuses))
        """
    )
    env = {"SHIM_AUDIT": str(tmp_path / "audit.jsonl"), "SHIM_REDACT": "fine;[unclosed"}
    plain = subprocess.run(
        [sys.executable, "-c", code.format(enable="")],
        env=child_env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=60,
        check=False,
    )
    shimmed = subprocess.run(
        [sys.executable, "-c", code.format(enable="; import shim.auto")],
        env=child_env(**env),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=60,
        check=False,
    )
    assert shimmed.returncode == plain.returncode == 0
    assert shimmed.stdout == plain.stdout
    lines = shimmed.stderr.splitlines()
    assert len(lines) == 1, shimmed.stderr
    assert "SHIM_REDACT" in lines[0]
    assert "regular expression" in lines[0]
    assert not (tmp_path / "audit.jsonl").exists()


def test_redaction_never_changes_the_command(tmp_path: Path) -> None:
    """The command runs with every secret intact, whatever the records show."""
    command = "printf '%s\\n' DB_PASSWORD=hunter2 --token=t0k 'https://u:pw@h/' > out.txt"
    plain_dir, shim_dir = tmp_path / "plain", tmp_path / "shim"
    for directory, enable in (
        (plain_dir, ""),
        (shim_dir, "import shim; shim.install(audit='a.jsonl', redact=['t0k']); "),
    ):
        directory.mkdir()
        subprocess.run(
            [sys.executable, "-c", f"import os; {enable}assert os.system({command!r}) == 0"],
            env=child_env(),
            cwd=str(directory),
            check=True,
            timeout=60,
        )
    assert (shim_dir / "out.txt").read_bytes() == (plain_dir / "out.txt").read_bytes()
    assert b"hunter2" in (shim_dir / "out.txt").read_bytes()
    record = json.loads((shim_dir / "a.jsonl").read_text())
    for secret in ("hunter2", "t0k", "pw"):
        assert secret not in record["command"]


SECRET_TEXT = st.text(
    alphabet=characters(
        exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), exclude_characters="'\"\\&;|<>()`$"
    ),
    min_size=4,
)


@given(SECRET_TEXT)
def test_assignment_values_never_leak(secret: str) -> None:
    """Whatever the value of a NAME=value word with a secret name, it does not survive redaction."""
    for template in (
        "DB_PASSWORD={} ./run",
        "x --api-key={} y",
        "x --token {}",
        "mysql -p{} db",
        "sshpass -p {} ssh h",
    ):
        masked = DEFAULT.command(template.format(secret))
        assert secret not in masked, (template, masked)
        assert MASK in masked


@given(st.text())
def test_redaction_never_raises(text: str) -> None:
    """Any text, including lone surrogates and control characters, can be redacted."""
    DEFAULT.command(text)
    DEFAULT.output(text)
    DEFAULT.argv(text.split(" "))


def test_argv_is_only_a_view() -> None:
    """Redacting an argv returns a new list and leaves the one that runs untouched."""
    argv = ["mysql", "-pX"]
    assert DEFAULT.argv(argv) == ["mysql", "-p***"]
    assert argv == ["mysql", "-pX"]
    assert os.fsencode(argv[1]) == b"-pX"
