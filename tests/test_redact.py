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
        if secret in template.format(""):
            continue  # "mysq" is in "mysql": the template shows it, not the value
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


# --- the default rules: real tools' secret-bearing options ---------------------------------------
# One row per form a real tool takes a secret in (issue 9, item 4), then the
# look-alikes that must stay readable.  (what, command, masked command)

TOOLS = [
    ("curl: combined short flags", "curl -su user:pw1 https://x", "curl -su user:*** https://x"),
    ("curl: -sSfu", "curl -sSfu admin:s3cr3t https://x", "curl -sSfu admin:*** https://x"),
    ("curl: value attached in a cluster", "curl -sSuadmin:s3cr3t https://x", "curl -sSuadmin:*** https://x"),
    ("curl: --user=", "curl --user=admin:s3cr3t x", "curl --user=admin:*** x"),
    ("curl: bearer option", "curl --oauth2-bearer tok123 https://x", "curl --oauth2-bearer *** https://x"),
    ("curl: client certificate password", "curl -E cert.pem:certpw https://x", "curl -E cert.pem:*** https://x"),
    ("curl: --cert", "curl --cert cert.pem:certpw https://x", "curl --cert cert.pem:*** https://x"),
    ("curl: --cookie", "curl --cookie 'sid=abc123' https://x", "curl --cookie *** https://x"),
    ("--pw=", "tool --pw=hunter2 x", "tool --pw=*** x"),
    ("--auth=", "tool --auth=user:pw x", "tool --auth=*** x"),
    ("--credentials=", "gcloud x --credentials=abc123", "gcloud x --credentials=***"),
    ("DB_CREDENTIALS=", "DB_CREDENTIALS=abc123 ./run", "DB_CREDENTIALS=*** ./run"),
    ("AUTH=", "AUTH=abc123 ./run", "AUTH=*** ./run"),
    ("BASIC_AUTH=", "BASIC_AUTH=u:p ./run", "BASIC_AUTH=*** ./run"),
    ("GITHUB_PAT=", "GITHUB_PAT=ghp_abc123 ./run", "GITHUB_PAT=*** ./run"),
    ("camelCase name", "run --authToken=abc123", "run --authToken=***"),
    ("header: Authorization Bearer", "curl -H 'Authorization: Bearer abc.def' x", "curl -H 'Authorization: Bearer ***' x"),
    (
        "header: AWS SigV4 Authorization",
        "curl -H 'Authorization: AWS4-HMAC-SHA256 Credential=AKIA/x, Signature=abc' x",
        "curl -H 'Authorization: ***' x",
    ),
    ("header: Cookie", "curl -H 'Cookie: sid=abc; theme=dark' https://x", "curl -H 'Cookie: ***' https://x"),
    ("header: Cookie, double quotes", 'curl -H "Cookie: sid=abc; t=d" x', 'curl -H "Cookie: ***" x'),
    ("header: X-Auth", "curl -H 'X-Auth: abc123' x", "curl -H 'X-Auth: ***' x"),
    ("header: X-Auth-Key", "curl --header='X-Auth-Key: k1 k2' x", "curl --header='X-Auth-Key: ***' x"),
    ("header: X-Vault-Token", 'curl -H "X-Vault-Token: s.abc" x', 'curl -H "X-Vault-Token: ***" x'),
    (
        "git: extra header",
        "git -c http.extraHeader='Authorization: Basic dXNlcjpw' clone x",
        "git -c http.extraHeader='Authorization: Basic ***' clone x",
    ),
    (
        "JSON body",
        """curl -d '{"password": "hunter2", "user": "bob"}' x""",
        """curl -d '{"password": "***", "user": "bob"}' x""",
    ),
    ("JSON body, compact", """curl -d '{"api_key":"abc"}' x""", """curl -d '{"api_key":"***"}' x"""),
    ("JSON body, number", """curl -d '{"secret": 1234, "n": 1}' x""", """curl -d '{"secret": ***, "n": 1}' x"""),
    (
        "JSON body, escaped in double quotes",
        'curl -d "{\\"token\\": \\"abc\\"}" x',
        'curl -d "{\\"token\\": \\"***\\"}" x',
    ),
    ("URL: token as the user", "git clone https://ghp_abc123@github.com/o/r.git", "git clone https://***@github.com/o/r.git"),
    ("URL: pip git+https", "pip install git+https://tok123@h.io/r.git", "pip install git+https://***@h.io/r.git"),
    ("URL: user and password", "git clone https://oauth2:glpat-x@gitlab.com/r", "git clone https://oauth2:***@gitlab.com/r"),
    (
        "AWS SigV4 presigned URL",
        "curl 'https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2F2013&X-Amz-Signature=abcdef01&X-Amz-Expires=60'",
        "curl 'https://b.s3.amazonaws.com/k?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Expires=60'",
    ),
    ("AWS Signature=", "run Signature=abcdef01", "run Signature=***"),
    ("Azure SAS sig=", "curl 'https://a.blob.core.windows.net/c?sv=2020&sig=ab%3D'", "curl 'https://a.blob.core.windows.net/c?sv=2020&sig=***'"),
    ("docker login -p", "docker login -u bob -p s3cr3t registry.io", "docker login -u bob -p *** registry.io"),
    ("docker login -p attached", "docker login -ps3cr3t r.io", "docker login -p*** r.io"),
    ("podman login", "podman login -p s3cr3t quay.io", "podman login -p *** quay.io"),
    ("helm registry login", "helm registry login r.io -u bob -p s3cr3t", "helm registry login r.io -u bob -p ***"),
    ("az login", "az login -u bob -p s3cr3t", "az login -u bob -p ***"),
    ("redis-cli -a", "redis-cli -h db -a s3cr3t ping", "redis-cli -h db -a *** ping"),
    ("redis-cli -a quoted", "redis-cli -a 's3 cr3t' ping", "redis-cli -a '***' ping"),
    ("mysql -p", "mysql -uroot -pS3cret db", "mysql -uroot -p*** db"),
    ("mongosh -p", "mongosh -u admin -p s3cr3t", "mongosh -u admin -p ***"),
    ("ldapsearch -w", "ldapsearch -x -D cn=admin -w s3cr3t -b dc=x", "ldapsearch -x -D cn=admin -w *** -b dc=x"),
    ("smbclient -U user%password", "smbclient //srv/s -U bob%s3cr3t", "smbclient //srv/s -U bob%***"),
    ("sqlcmd -P", "sqlcmd -S srv -U sa -P s3cr3t", "sqlcmd -S srv -U sa -P ***"),
    ("openssl enc -k", "openssl enc -aes-256-cbc -k s3cr3t -in f", "openssl enc -aes-256-cbc -k *** -in f"),
    ("ssh-keygen -N", "ssh-keygen -t ed25519 -N s3cr3t -f key", "ssh-keygen -t ed25519 -N *** -f key"),
    ("httpie -a", "http -a bob:s3cr3t https://x", "http -a bob:*** https://x"),
    ("sqlplus user/password@db", "sqlplus scott/tiger@orcl @run.sql", "sqlplus scott/***@orcl @run.sql"),
    ("rar -p attached", "rar a -ps3cr3t out.rar f", "rar a -p*** out.rar f"),
    ("7z -p attached", "7z a -pSECRET out.7z files", "7z a -p*** out.7z files"),
    ("sshpass -p", "sshpass -p pw12 ssh host uptime", "sshpass -p *** ssh host uptime"),
    ("zip -P", "zip -P pw12 out.zip f", "zip -P *** out.zip f"),
    ("PGPASSWORD", "PGPASSWORD=x psql", "PGPASSWORD=*** psql"),
    ("openssl -passin", "openssl rsa -passin pass:foo -in key.pem", "openssl rsa -passin *** -in key.pem"),
]

LOOK_ALIKES = [
    "mkdir -p /tmp/build",
    "grep -p pattern file",
    "grep -P 'a+b' file",
    "ssh -p 22 host",
    "cp -p a b",
    "docker run -p 8080:80 nginx",
    "docker ps -a",
    "docker login registry.io",
    "7z a -p out.7z files",
    "ls -a /tmp",
    "cp -a src dst",
    "tar -czf a.tgz dir",
    "sort -u file",
    "curl -sS -o out.txt https://example.com/",
    "curl -sSL https://example.com/ -o f",
    "git log --author=bob",
    "AUTHOR=bob make",
    "PATH=/bin:/usr/bin env",
    "PWD=/srv/app make",
    "OLDPWD=/srv make",
    "ssh user@host uptime",
    "scp file user@host:/tmp",
    "git clone git@github.com:o/r.git",
    "git clone ssh://git@github.com/o/r.git",
    "git clone https://github.com/o/r.git",
    "rsync -a src/ user@host:dst/",
    "http -v https://example.com/",
    "sqlplus /nolog",
    "openssl dgst -sha256 -sign key.pem -signature sig.bin f",
    "redis-server --port 6379",
    "mysql -e 'select 1'",
    "curl -H 'Accept: application/json' https://x",
    "curl -d '{\"user\": \"bob\", \"n\": 1}' https://x",
    "echo 'Author: Bob'",
    "env -u NAME cmd",
]


@pytest.mark.parametrize(("what", "command", "expected"), TOOLS, ids=[row[0] for row in TOOLS])
def test_default_rules_for_real_tools(what: str, command: str, expected: str) -> None:
    """Each tool's secret-bearing form is masked by default, the rest of the command kept."""
    assert DEFAULT.command(command) == expected


@pytest.mark.parametrize("command", LOOK_ALIKES)
def test_default_rules_keep_look_alikes(command: str) -> None:
    """Options and words that only look like secrets stay readable."""
    assert DEFAULT.command(command) == command


OUTPUTS = [
    ("Set-Cookie: sid=abc; Path=/\n", "Set-Cookie: ***\n"),
    ('{"access_token": "abc", "expires_in": 3600}\n', '{"access_token": "***", "expires_in": 3600}\n'),
    ("export GITHUB_PAT=ghp_abc\n", "export GITHUB_PAT=***\n"),
    ("password: hunter2\n", "password: ***\n"),
    ("Authorization: Bearer abc\r\n", "Authorization: Bearer ***\r\n"),
    ("Author: Bob <bob@example.com>\n", "Author: Bob <bob@example.com>\n"),
    ("cloning https://ghp_abc@github.com/o/r\n", "cloning https://***@github.com/o/r\n"),
]


@pytest.mark.parametrize(("text", "expected"), OUTPUTS)
def test_default_rules_in_output(text: str, expected: str) -> None:
    """The same forms in captured output."""
    assert DEFAULT.output(text) == expected
