r"""Masking secrets in what the shim logs and audits (never in what it runs).

A :class:`Redactor` finds the spans of a text that look like secrets and
replaces each with ``***``.  The built-in rules:

* ``NAME=value`` words whose name contains ``pass``, ``pwd``, ``token``,
  ``secret``, ``credential`` or ``key`` (any case), or ends in ``auth``,
  ``pw``, ``pat``, ``sig``, ``signature`` or ``cookie``: ``DB_PASSWORD=x``,
  ``--api-key=x``, ``-Ddb.password=x``, ``GITHUB_PAT=x``, ``?token=x`` and
  ``X-Amz-Signature=x`` in a URL (not ``PWD``, ``OLDPWD``, ``KEYBOARD``);
  a quoted ``"NAME=value with blanks"`` to its closing quote;
* ``--password value`` and other options taking their value as the next word,
  when the last part of the option's name says it is a secret (``--token``,
  ``--client-secret``, ``-passin``, ``--oauth2-bearer``; not
  ``--password-file``, not ``--no-password``);
* ``scheme://user:password@host``: the password; ``https://TOKEN@host``:
  the token (a user alone in other schemes, ``ssh://git@host``, stays);
* ``Authorization: Bearer x``, ``Cookie:``, ``X-Auth...:`` and headers such
  as ``X-Api-Key: x``, in a quoted word up to its closing quote;
* JSON members with such names: ``{"password": "x"}``, also with escaped
  quotes;
* short options that carry a secret for the programs that use them
  (``_PROGRAMS``): ``-pSECRET`` and ``-p SECRET`` for the MySQL, MariaDB
  and MongoDB clients and ``sshpass``, ``-pSECRET`` for ``7z`` and ``rar``,
  ``-P`` for ``zip`` and ``sqlcmd``, ``-a`` for ``redis-cli``, ``-w`` for
  the LDAP tools, ``-u user:password`` for ``curl`` (also in a cluster,
  ``-su``) and ``http``, ``-U user%password`` for Samba, ``-p`` after
  ``docker login`` and the like, ``user/password@db`` for ``sqlplus``.
  ``-p`` is left alone elsewhere: ``mkdir -p DIR``, ``ssh -p 22`` and
  ``docker run -p 80:80`` are far more common than a password.

Extra patterns (``SHIM_REDACT`` / ``redact=``) run first, on the original
text, and also on the argv a command amounts to (its words joined by
spaces, quotes removed).  A pattern without capturing groups masks its
whole match; a pattern with groups masks what each group matched and keeps
the rest, so ``--user-pin (\S+)`` keeps ``--user-pin`` and hides the value.

A command is masked once, as bytes (:meth:`Redactor.call`): the rules for
commands and for argument lists mark bytes of the command, and every field
that shows the command in some form (the command itself, the argv of a
shell-free run, the suggested replacement, the exception of
``shell="never"``) is derived from those marks, so a value masked in one
field cannot come back through another.  Captured output is masked with the
bytes that preceded the kept tail and with the values masked in the
command (:meth:`Redactor.tail`).
"""

import re
from typing import Iterable, Iterator, List, NamedTuple, Optional, Pattern, Sequence, Tuple

from shim.exceptions import ConfigError

__all__ = [
    "MASK",
    "MIN_KNOWN",
    "Masked",
    "Redactor",
    "compile_patterns",
    "render",
    "render_str",
    "secret_option",
]

MASK = "***"

Span = Tuple[int, int]

#: A shell word, quotes included; a quote that is not closed runs to the end
#: of the line, which masks too much rather than too little.
_WORD = r"""(?:'[^'\n]*'?|"(?:\\.|[^"\\\n])*"?|\\.|[^\s'"\\&;|<>()`])+"""
#: The value of a secret: a quoted string, or a run up to a space, a quote or
#: a shell operator, plus a quoted part that ends the word (``pw'a b'``).
#: Not any shell word: in ``"x token=abc"; ls`` the quote after the value
#: closes an outer string.
_VALUE = (
    r"""(?:'[^'\n]*'?|"(?:\\.|[^"\\\n])*"?"""
    r"""|(?:\\.|[^\s'"\\&;|<>()`])+(?:(?:'[^'\n]*'|"(?:\\.|[^"\\\n])*")(?=[\s;&|)]|\Z))?)"""
)
#: A value in program output: a quoted string or a run up to a delimiter.
_OUTPUT_VALUE = r"""(?:'[^'\n]*'?|"[^"\n]*"?|[^\s'"&,;]+)"""

#: A ``NAME=value`` is a secret when its name holds one of these (any case;
#: ``key`` not followed by a letter, so ``apiKey`` but not ``KEYBOARD``)...
_NAME_HINT = re.compile(r"pass|pwd|token|secret|credential|key(?![a-z])", re.IGNORECASE)
#: ... or when its last part (split at ``-``, ``_``, ``.`` and camelCase) is
#: one of these: ``--pw=``, ``AUTH=``, ``GITHUB_PAT=``, ``X-Amz-Signature=``.
_NAME_LAST_PARTS = frozenset(("auth", "cookie", "pat", "pw", "sig", "signature"))
#: The shell's working directories, whatever ``pwd`` suggests.
_NOT_SECRET_NAMES = frozenset(("pwd", "oldpwd"))
_CAMEL_TAIL = re.compile(r"[A-Z][a-z0-9]*\Z")


def _secret_name(name: str) -> bool:
    """Whether ``NAME=value`` (also ``--name=``, ``-Dname=``, a JSON key) holds a secret."""
    if name.lstrip("-").lower() in _NOT_SECRET_NAMES:
        return False
    if _NAME_HINT.search(name):
        return True
    last = re.split(r"[-_.]", name)[-1]
    if not (last.isupper() or last.islower()):
        camel = _CAMEL_TAIL.search(last)
        if camel is not None:
            last = camel.group()
    return last.lower() in _NAME_LAST_PARTS


#: Last parts of an option name (split at ``-``, ``_`` and ``.``) whose next
#: word is a secret.
_SECRET_LAST_PARTS = frozenset(
    (
        "apikey",
        "auth",
        "bearer",
        "cookie",
        "credential",
        "credentials",
        "key",
        "pass",
        "passin",
        "passout",
        "passphrase",
        "passwd",
        "password",
        "pw",
        "pwd",
        "secret",
        "token",
    )
)
_SECRET_INSIDE = ("password", "passwd", "secret", "token", "apikey")


def _assignment(value: str) -> Pattern[str]:
    # NAME=value, also --name=value and -Dname=value; the lookbehind keeps
    # "x.token=1" inside a longer word from matching halfway.
    return re.compile(r"(?<![\w.-])(-{0,2}[A-Za-z_][\w.-]*)=(" + value + ")")


def _quoted_assignment() -> Pattern[str]:
    # "NAME=value with spaces": the quotes open before the name, so the
    # value runs to where they close.
    return re.compile(
        r"""(?<![^\s=(])(?:'(-{0,2}[A-Za-z_][\w.-]*)=([^'\n]*)'"""
        r"""|"(-{0,2}[A-Za-z_][\w.-]*)=((?:\\.|[^"\\\n])*)")"""
    )


def _separate(value: str) -> Pattern[str]:
    # The value is captured inside a lookahead so that it can itself be the
    # next option: "--password --token x" still masks "x".
    return re.compile(r"""(?<![^\s'"(])(['"]?)(-{1,2}[A-Za-z][\w.-]*)\1[ \t]+(?=(""" + value + "))")


_URL_PASSWORD = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/@:'\"]*:([^\s/'\"]*)@")
#: ``https://TOKEN@host``: a user without a password in an HTTP URL is how
#: GitHub, GitLab and package registries take a token.  Other schemes
#: (``ssh://git@host``) name a login there, and keep it.
_URL_TOKEN = re.compile(r"\b(?:[A-Za-z][A-Za-z0-9.-]*\+)?https?://([^\s/@:'\"]+)@", re.IGNORECASE)
_SCHEME = r"(?:(?:bearer|basic|token|digest|negotiate)[ \t]+)?"
# A header-like "Name: value"; the name is checked in Python, which is much
# faster than an alternation after a repeated character class.
_HEADER = re.compile(
    r"(?<![\w-])([\w-]+)[ \t]*:[ \t]*" + _SCHEME + r"('[^'\n]*'|\"[^\"\n]*\"|[^\s'\"]+)",
    re.IGNORECASE,
)
#: A header in a quoted word (``-H 'Cookie: a=1; b=2'``): the value runs to
#: where the quotes close.
_QUOTED_HEADER = re.compile(
    r"'([\w-]+)[ \t]*:[ \t]*" + _SCHEME + r"([^'\n]*)"
    r"|\"([\w-]+)[ \t]*:[ \t]*" + _SCHEME + r"((?:\\.|[^\"\\\n])*)",
    re.IGNORECASE,
)
#: A header in output: the value runs to the end of the line.
_OUTPUT_HEADER = re.compile(
    r"(?<![\w-])([\w-]+)[ \t]*:[ \t]*" + _SCHEME + r"('[^'\n]*'|\"[^\"\n]*\"|[^\r\n]+)",
    re.IGNORECASE,
)
_HEADER_NAME = re.compile(
    r"(?:proxy-)?authorization\Z|x-auth|(?:set-)?cookie\Z"
    r"|.*(?:token|secret|passw(?:or)?d|api[-_]?key|credential|signature)",
    re.IGNORECASE,
)
#: ``"name": value`` in JSON, and the same with escaped quotes (JSON in a
#: double-quoted shell word); the value without its quotes.
_JSON_MEMBER = re.compile(
    r'"([\w.-]+)"[ \t]*:[ \t]*(?:"((?:\\.|[^"\\\n])*)"|([^\s,}\]\'"]+))'
)
_ESCAPED_JSON_MEMBER = re.compile(
    r'\\"([\w.-]+)\\"[ \t]*:[ \t]*(?:\\"((?:(?!\\").)*)\\"|([^\s,}\]\'"\\]+))'
)

_COMMAND_ASSIGNMENT = _assignment(_VALUE)
_QUOTED_ASSIGNMENT = _quoted_assignment()
#: In an element of an argv, a value may hold blanks: it runs to the end of
#: the element, or to the next blank-separated ``NAME=``.
_ARGV_ASSIGNMENT = _assignment(r"(?s:.+?)(?=\s+-{0,2}[A-Za-z_][\w.-]*=|\Z)")
_COMMAND_SEPARATE = _separate(_VALUE)
_OUTPUT_ASSIGNMENT = _assignment(_OUTPUT_VALUE)
_OUTPUT_SEPARATE = _separate(_OUTPUT_VALUE)

# Words of a shell command, roughly: enough to tell which program an option
# belongs to.  Separators start a new command; a redirection's target is not
# an argument.
_TOKEN = re.compile(
    r"""(?P<space>[ \t]+|\\\n)"""
    r"""|(?P<sep>\n|&&|\|\||;;|[|&;()`]|\$\()"""
    r"""|(?P<redir>\d*(?:<<-?|>>|<>|>&|<&|&>>?|>\||[<>]))"""
    r"""|(?P<word>""" + _WORD + ")"
    r"""|(?P<other>.)""",
    re.DOTALL,
)
_UNQUOTE = re.compile(r"""['"\\]""")
#: Every built-in rule needs one of these (lower-cased) in the text; most
#: commands and most lines of output have none.  Substring tests are much
#: faster than any regular expression here.
_PROGRAM_HINTS = (
    "mysql",
    "mariadb",
    "mongo",
    "sshpass",
    "7z",
    "rar",
    "zip",
    "sqlcmd",
    "bcp",
    "redis",
    "keydb",
    "valkey",
    "openssl",
    "ssh-keygen",
    "ldap",
    "curl",
    "http",
    "xh",
    "smb",
    "rpcclient",
    "net",
    "sqlplus",
    "sqlldr",
    "expdp",
    "impdp",
    "login",
)
_HINTS = (
    "pass",
    "pw",
    "token",
    "secret",
    "key",
    "auth",
    "bearer",
    "credential",
    "cookie",
    "pat",
    "sig",
    "@",
    *_PROGRAM_HINTS,
)


# For a short text one search for all the hints is several times faster
# than a loop of `in`; for a long one, the loop is (each `in` is a fast
# substring search, the alternation tries every hint at every position).
_ANY_HINT = re.compile("|".join(re.escape(hint) for hint in _HINTS))
_ANY_PROGRAM_HINT = re.compile("|".join(re.escape(hint) for hint in _PROGRAM_HINTS))
_SHORT_TEXT = 256


def _has(lowered: str, pattern: Pattern[str], hints: Sequence[str]) -> bool:
    """Whether ``lowered`` holds one of ``hints`` (``pattern`` is their alternation)."""
    if len(lowered) <= _SHORT_TEXT:
        return pattern.search(lowered) is not None
    return any(hint in lowered for hint in hints)


def _hinted(text: str) -> bool:
    return _has(text.lower(), _ANY_HINT, _HINTS)


def _hinted_lines(text: str) -> Iterator[Tuple[int, str]]:
    """The lines of ``text`` holding a hint, with their offsets."""
    lowered = text.lower()
    starts = set()
    for hint in _HINTS:
        position = lowered.find(hint)
        while position >= 0:
            start = lowered.rfind("\n", 0, position) + 1
            starts.add(start)
            end = lowered.find("\n", position)
            if end < 0:
                break
            position = lowered.find(hint, end)
    for start in sorted(starts):
        end = text.find("\n", start)
        yield start, text[start : (len(text) if end < 0 else end + 1)]


def compile_patterns(
    patterns: Iterable[str], name: str = "SHIM_REDACT / redact"
) -> List[Pattern[str]]:
    """Compile the extra patterns; :class:`ConfigError` names ``name`` for a bad one."""
    return [_compile(pattern, name) for pattern in patterns]


def _compile(pattern: str, name: str) -> Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigError(
            f"{name}: {pattern!r} is not a valid regular expression ({exc}); accepted values: "
            "regular expressions (';'-separated in SHIM_REDACT, a list for redact=; "
            "write a literal ';' as \\x3b)"
        ) from None


def secret_option(name: str) -> bool:
    """Whether the word after the option ``name`` (dashes included) is a secret."""
    bare = name.lstrip("-").lower()
    if len(bare) < 2 or bare.startswith(("no-", "no_")):
        return False
    last = bare
    for separator in "-_.":
        last = last.rpartition(separator)[2]
    if last in _SECRET_LAST_PARTS:
        return True
    # "-pSECRET" is a short option with its value attached, not a name.
    return name.startswith("--") and any(hint in last for hint in _SECRET_INSIDE)


def _merge(spans: Iterable[Span]) -> List[Span]:
    merged: List[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _apply(text: str, spans: Iterable[Span], secrets: Optional[List[str]]) -> str:
    merged = _merge(spans)
    if not merged:
        return text
    parts = []
    position = 0
    for start, end in merged:
        parts.append(text[position:start])
        parts.append(MASK)
        if secrets is not None:
            secrets.append(text[start:end])
        position = end
    parts.append(text[position:])
    return "".join(parts)


class _Rules(NamedTuple):
    """The regular expressions of the built-in rules for one kind of text."""

    assignment: Pattern[str]
    separate: Pattern[str]
    header: Pattern[str]
    quoted: bool


_COMMAND_RULES = _Rules(_COMMAND_ASSIGNMENT, _COMMAND_SEPARATE, _HEADER, quoted=True)
_ARGV_RULES = _Rules(_ARGV_ASSIGNMENT, _COMMAND_SEPARATE, _HEADER, quoted=False)
_OUTPUT_RULES = _Rules(_OUTPUT_ASSIGNMENT, _OUTPUT_SEPARATE, _OUTPUT_HEADER, quoted=False)


def _rule_spans(text: str, rules: _Rules) -> Iterator[Span]:
    if "=" in text:
        for match in rules.assignment.finditer(text):
            if _secret_name(match.group(1)):
                yield match.span(2)
        if rules.quoted and ("'" in text or '"' in text):
            for match in _QUOTED_ASSIGNMENT.finditer(text):
                group = 1 if match.start(1) >= 0 else 3
                if _secret_name(match.group(group)):
                    yield match.span(group + 1)
    if "-" in text:
        for match in rules.separate.finditer(text):
            if secret_option(match.group(2)):
                yield match.span(3)
    if "://" in text:
        for match in _URL_PASSWORD.finditer(text):
            yield match.span(1)
        for match in _URL_TOKEN.finditer(text):
            yield match.span(1)
    if ":" in text:
        for match in rules.header.finditer(text):
            if _HEADER_NAME.match(match.group(1)):
                yield match.span(2)
        if rules.quoted and ("'" in text or '"' in text):
            for match in _QUOTED_HEADER.finditer(text):
                group = 1 if match.start(1) >= 0 else 3
                if _HEADER_NAME.match(match.group(group)):
                    yield match.span(group + 1)
        if '"' in text:
            for pattern in (_JSON_MEMBER, _ESCAPED_JSON_MEMBER):
                for match in pattern.finditer(text):
                    name = match.group(1)
                    if _secret_name(name) or _HEADER_NAME.match(name):
                        yield match.span(2) if match.start(2) >= 0 else match.span(3)


class _Program:
    """How one program takes secrets in its short options (and a few long ones).

    Letters name short options.  ``value``: the value, attached (``-pX``)
    or the next word (``-p X``), is a secret; ``attached``: only an
    attached value is (``-p`` alone prompts); ``next_only``: only the next
    word is (the program's long options start with one dash, ``-kfile``);
    ``parts``: the value's part after a separator is (``-u user:pw``,
    ``-U user%pw``); ``long``: the same for ``--name`` options.  ``takes``:
    the other letters that take a value; when given, short options may be
    clustered (``curl -su user:pw``), and a letter of ``takes`` ends the
    cluster.  ``login``: the rules apply after the word ``login`` only
    (``docker login -p``, not ``docker run -p 80:80``).  ``operand``: the
    first operand is ``user/password@database``.
    """

    __slots__ = ("attached", "login", "long", "next_only", "operand", "parts", "takes", "value")

    def __init__(
        self,
        *,
        value: str = "",
        attached: str = "",
        next_only: str = "",
        colon: str = "",
        percent: str = "",
        long: Sequence[Tuple[str, str]] = (),
        takes: Optional[str] = None,
        login: bool = False,
        operand: bool = False,
    ) -> None:
        self.value = value
        self.attached = attached
        self.next_only = next_only
        self.parts = {**dict.fromkeys(colon, ":"), **dict.fromkeys(percent, "%")}
        self.long = dict(long)
        self.takes = takes
        self.login = login
        self.operand = operand


# The secret-bearing options of real tools (their manuals; each is a test case).
_PASSWORD_P = _Program(value="p")  # mysql, mariadb, sshpass, mongo*
_ARCHIVE_P = _Program(attached="p")  # 7z, rar: "-p" alone prompts
_CAPITAL_P = _Program(value="P")  # zip, unzip, sqlcmd, bcp
_REGISTRY_LOGIN = _Program(value="p", login=True)  # docker login -p, az login -p
_SAMBA = _Program(percent="U", long=(("--user", "%"),))  # -U user%password
_ORACLE = _Program(operand=True)  # sqlplus user/password@db
_PROGRAMS = {
    "sshpass": _PASSWORD_P,
    **dict.fromkeys(("7z", "7za", "7zr", "7zz", "rar", "unrar"), _ARCHIVE_P),
    **dict.fromkeys(("zip", "unzip", "zipcloak", "funzip", "sqlcmd", "bcp"), _CAPITAL_P),
    **dict.fromkeys(("redis-cli", "keydb-cli", "valkey-cli"), _Program(value="a")),
    "openssl": _Program(next_only="kK"),
    "ssh-keygen": _Program(value="NP"),
    "ldappasswd": _Program(value="was"),
    "curl": _Program(
        colon="uUE",
        long=(("--user", ":"), ("--proxy-user", ":"), ("--cert", ":"), ("--proxy-cert", ":")),
        takes="AbcCdDeFHKmoPQrtTwxXyYz",
    ),
    **dict.fromkeys(("http", "https", "xh", "xhs"), _Program(colon="a")),
    **dict.fromkeys(("smbclient", "rpcclient", "smbcacls", "smbget", "smbtree", "net"), _SAMBA),
    **dict.fromkeys(("sqlplus", "sqlldr", "expdp", "impdp"), _ORACLE),
    **dict.fromkeys(
        ("docker", "podman", "nerdctl", "buildah", "skopeo", "helm", "oras", "az"), _REGISTRY_LOGIN
    ),
}
_PROGRAM_FAMILIES = (
    (re.compile(r"(?:mysql\w*|mariadb[\w-]*|mongo\w*)\Z"), _PASSWORD_P),
    (re.compile(r"ldap\w+\Z"), _Program(value="w")),
)
_ORACLE_LOGIN = re.compile(r"[^/@\s]+/([^@\s]+)")


def _program(name: str) -> Optional[_Program]:
    found = _PROGRAMS.get(name)
    if found is None:
        for pattern, rules in _PROGRAM_FAMILIES:
            if pattern.match(name):
                return rules
    return found


class _ProgramRules:
    """Reading the words after a program's name with that program's :class:`_Program`."""

    __slots__ = ("operand_seen", "pending", "program", "started")

    def __init__(self, program: _Program) -> None:
        self.program = program
        self.started = not program.login
        self.operand_seen = False
        # The next word is a secret: all of it (""), or its part after ":"
        # or "%"; None: it is not.
        self.pending: Optional[str] = None

    def word(self, word: str) -> Optional[Span]:
        """Return the span of ``word`` (unquoted text) to mask, if any."""
        pending, self.pending = self.pending, None
        if pending is not None:
            return _after(word, 0, pending)
        if not self.started:
            self.started = word == "login"
            return None
        program = self.program
        if word.startswith("--"):
            name, equals, _ = word.partition("=")
            separator = program.long.get(name)
            if separator is None:
                return None
            if equals:
                return _after(word, len(name) + 1, separator)
            self.pending = separator
            return None
        if word.startswith("-") and len(word) > 1:
            return self._short(word)
        if program.operand and not self.operand_seen:
            self.operand_seen = True
            login = _ORACLE_LOGIN.match(word)
            return login.span(1) if login is not None else None
        return None

    def _short(self, word: str) -> Optional[Span]:
        program = self.program
        for index in range(1, len(word)):
            letter = word[index]
            attached = index + 1 < len(word)
            separator = program.parts.get(letter)
            if separator is None and letter in program.value:
                separator = ""
            elif separator is None and letter in program.attached:
                if not attached:
                    return None
                separator = ""
            elif separator is None and letter in program.next_only:
                if attached:
                    return None
                separator = ""
            if separator is not None:
                if attached:
                    return _after(word, index + 1, separator)
                self.pending = separator
                return None
            if program.takes is None or letter in program.takes:
                # Not a cluster, or the rest is another option's value.
                return None
        return None


def _after(word: str, start: int, separator: str) -> Optional[Span]:
    """The span of ``word`` from ``start`` on, or after ``separator`` when one is given."""
    if separator:
        found = word.find(separator, start)
        return (found + 1, len(word)) if found >= 0 else None
    return (start, len(word)) if start < len(word) else None


def _basename(word: str) -> str:
    return word.rsplit("/", 1)[-1]


def _command_program_spans(text: str) -> Iterator[Span]:
    """Spans hidden by the program-specific rules in a shell command.

    The rules of a program apply to the words after it up to the end of
    its simple command.  Any word naming such a program counts, not only
    the first, so ``sudo -u bob mysql -pX`` and ``env A=1 mysql -pX`` are
    covered without knowing every wrapper's options.
    """
    rules: Optional[_ProgramRules] = None
    after_redirection = False
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind in ("space", "other"):
            continue
        if kind == "sep":
            after_redirection, rules = False, None
            continue
        if kind == "redir":
            after_redirection = True
            continue
        if after_redirection:
            after_redirection = False
            continue
        raw = match.group()
        word = _UNQUOTE.sub("", raw)
        if rules is not None:
            span = rules.word(word)
            if span is not None:
                yield _raw_span(raw, word, span, match.start())
                continue
        program = _program(_basename(word))
        if program is not None:
            rules = _ProgramRules(program)


def _raw_span(raw: str, word: str, span: Span, offset: int) -> Span:
    """Map a span of the unquoted word back onto the raw text (approximately)."""
    if raw == word:
        return offset + span[0], offset + span[1]
    # Quoted: hide from the same prefix length on, up to a closing quote.
    start = offset + span[0] + (1 if raw[:1] in "'\"" else 0)
    end = offset + len(raw) - (1 if raw[-1:] in "'\"" and len(raw) > 1 else 0)
    return (start, max(start, end)) if span[1] > span[0] else (start, start)


def _custom_spans(patterns: Sequence[Pattern[str]], text: str) -> Iterator[Span]:
    for pattern in patterns:
        groups = pattern.groups
        for match in pattern.finditer(text):
            if groups:
                for index in range(1, groups + 1):
                    if match.start(index) >= 0:
                        yield match.span(index)
            else:
                yield match.span()


class Masked(NamedTuple):
    """A command and what is derived from it, secrets masked (see :meth:`Redactor.call`)."""

    #: The command, as text.
    command: str
    #: The argv it amounts to, as text, or ``None`` when it needs a shell.
    argv: Optional[List[str]]
    #: The values that were masked, as written in the command and as the
    #: program receives them (quotes removed): for masking captured output.
    secrets: List[str]


#: Well-formed UTF-8 (Unicode's table 3-7, which Python's decoder follows),
#: or one byte that is not part of it.
_UTF8_CHAR = re.compile(
    rb"[\x00-\x7f]|[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]"
    rb"|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]"
    rb"|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}"
    rb"|(.)",
    re.DOTALL,
)


def _char_bytes(data: bytes) -> Tuple[List[int], List[int]]:
    r"""Where each character of ``render(data)`` comes from: its first byte and the byte after.

    A byte that is not UTF-8 is rendered as four characters (``\xNN``), each
    of which comes from that one byte.
    """
    try:
        data.decode("ascii")
    except UnicodeDecodeError:
        pass
    else:
        return list(range(len(data))), list(range(1, len(data) + 1))
    starts: List[int] = []
    ends: List[int] = []
    for match in _UTF8_CHAR.finditer(data):
        start, end = match.span()
        count = 4 if match.start(1) >= 0 else 1
        starts.extend((start,) * count)
        ends.extend((end,) * count)
    return starts, ends


def _mark(flags: bytearray, data: bytes, spans: Sequence[Span]) -> None:
    """Set ``flags`` for the bytes of ``data`` behind ``spans`` of ``render(data)``."""
    if not spans:
        return
    starts, ends = _char_bytes(data)
    for start, end in spans:
        if end > start:
            low, high = starts[start], ends[end - 1]
            flags[low:high] = b"\x01" * (high - low)


_RUN = re.compile(rb"\x01+")
_QUOTING = re.compile(r"""\\(.)|['"]""", re.DOTALL)


def _render_masked(
    data: bytes, flags: bytearray, found: List[str], *, unquote: bool = False
) -> str:
    """``render(data)`` with each run of flagged bytes replaced by :data:`MASK`.

    The values replaced are appended to ``found`` (also without their shell
    quoting when ``unquote``).
    """
    parts = []
    position = 0
    for run in _RUN.finditer(flags):
        start, end = run.span()
        parts.append(render(data[position:start]))
        parts.append(MASK)
        value = render(data[start:end])
        found.append(value)
        if unquote:
            bare = _QUOTING.sub(lambda m: m.group(1) or "", value)
            if bare != value:
                found.append(bare)
        position = end
    if not parts:
        return render(data)
    parts.append(render(data[position:]))
    return "".join(parts)


#: The pieces of a command that needs no shell: blanks, a single-quoted
#: string, a double-quoted one, a backslash and the byte it escapes, or a
#: run of other bytes.
_PIECE = re.compile(
    rb"""([ \t]+)|'([^']*)'|"((?:[^"\\]|\\.)*)"|\\(.)|([^ \t'"\\]+)""", re.DOTALL
)
_DQ_ESCAPED = frozenset(b'$`"\\\n')


def _word_sources(command: bytes, argv: Sequence[bytes]) -> Optional[List[List[int]]]:
    """For each word of ``argv``, the offset in ``command`` of each of its bytes.

    ``argv`` is what :func:`shim._common.syntax.analyze` made of
    ``command``, which then has only blanks, quotes and backslashes to
    remove.  ``None`` if the words read here are not exactly ``argv``.
    """
    words: List[List[int]] = []
    texts: List[bytes] = []
    source: Optional[List[int]] = None
    text = bytearray()
    position = 0
    for piece in _PIECE.finditer(command):
        if piece.start() != position:
            return None  # an unclosed quote, a trailing backslash
        position = piece.end()
        kind = piece.lastindex or 0  # every alternative is a group
        if kind == 1:  # blanks end a word
            if source is not None:
                words.append(source)
                texts.append(bytes(text))
                source, text = None, bytearray()
            continue
        if source is None:
            source = []
        if kind == 3:  # "...": a backslash escapes $ ` " \ and newline only
            start, end = piece.span(3)
            i = start
            while i < end:
                if command[i] == 0x5C and command[i + 1] in _DQ_ESCAPED:
                    source.append(i + 1)
                    i += 2
                else:
                    source.append(i)
                    i += 1
            text += bytes(command[j] for j in source[len(text) :])
        else:
            start, end = piece.span(kind)
            source.extend(range(start, end))
            text += command[start:end]
    if position != len(command):
        return None
    if source is not None:
        words.append(source)
        texts.append(bytes(text))
    if texts != list(argv):
        return None
    return words


#: The shortest value masked wherever it appears in captured output: a
#: shorter one would mask ordinary words.
MIN_KNOWN = 4
#: What ends a value in output (see ``_OUTPUT_VALUE``).
_OUTPUT_DELIMITER = re.compile(r"""[\s'"&,;]""")
_OUTPUT_LEAD = re.compile(r"""[^\s'"&,;]+""")


class Redactor:
    """The built-in rules plus the extra patterns of one configuration."""

    __slots__ = ("patterns",)

    def __init__(self, patterns: Sequence[Pattern[str]] = ()) -> None:
        self.patterns = tuple(patterns)

    def command(self, text: str, secrets: Optional[List[str]] = None) -> str:
        """Mask the secrets in ``text``, a shell command.

        The masked originals are appended to ``secrets`` when given.
        """
        return _apply(text, self._command_spans(text), secrets)

    def argv(self, argv: Sequence[str], secrets: Optional[List[str]] = None) -> List[str]:
        """Mask the secrets in an argument list; the word after a secret option is masked whole."""
        return [
            _apply(arg, spans, secrets) for arg, spans in zip(argv, self._argv_spans(argv))
        ]

    def _command_spans(self, text: str) -> List[Span]:
        spans = list(_custom_spans(self.patterns, text))
        lowered = text.lower()
        if _has(lowered, _ANY_PROGRAM_HINT, _PROGRAM_HINTS):
            spans.extend(_command_program_spans(text))
        if _has(lowered, _ANY_HINT, _HINTS):
            spans.extend(_rule_spans(text, _COMMAND_RULES))
        return _merge(spans)

    def _argv_spans(self, argv: Sequence[str]) -> List[List[Span]]:
        """The spans to mask in each element of ``argv``.

        Extra patterns also run over the elements joined by spaces, so that
        one that spans several words (``--pin ([0-9]+)``) matches the argv
        as it matches the command.
        """
        found: List[List[Span]] = [[] for _ in argv]
        if not self.patterns and not any(_hinted(arg) for arg in argv):
            return found
        if self.patterns and len(argv) > 1:
            starts = []
            position = 0
            for arg in argv:
                starts.append(position)
                position += len(arg) + 1
            for start, end in _custom_spans(self.patterns, " ".join(argv)):
                for index, (offset, arg) in enumerate(zip(starts, argv)):
                    low, high = max(start, offset), min(end, offset + len(arg))
                    if low < high:
                        found[index].append((low - offset, high - offset))
        rules: Optional[_ProgramRules] = None
        secret_next = False
        for arg, spans in zip(argv, found):
            spans.extend(_custom_spans(self.patterns, arg))
            if secret_next:
                spans.append((0, len(arg)))
            lowered = arg.lower()
            span = rules.word(arg) if rules is not None else None
            if span is not None:
                spans.append(span)
            elif _has(lowered, _ANY_PROGRAM_HINT, _PROGRAM_HINTS):
                program = _program(_basename(arg))
                if program is not None:
                    rules = _ProgramRules(program)
            hinted = _has(lowered, _ANY_HINT, _HINTS)
            if hinted:
                spans.extend(_rule_spans(arg, _ARGV_RULES))
            secret_next = hinted and arg.startswith("-") and "=" not in arg and secret_option(arg)
        return found

    def call(self, command: bytes, argv: Optional[Sequence[bytes]] = None) -> "Masked":
        """Mask a command and the argv it amounts to, from one set of secret bytes.

        ``argv``: the words ``/bin/sh`` would run (:func:`shim._common.syntax.analyze`),
        or ``None`` when the command needs a shell.  The rules for commands
        and for argument lists both mark bytes of ``command``; every field
        is then derived from those bytes, so a value masked in one field
        is masked in all of them, however it was quoted or split.
        """
        secret = bytearray(len(command))
        _mark(secret, command, self._command_spans(render(command)))
        found: List[str] = []
        if argv is None:
            return Masked(_render_masked(command, secret, found, unquote=True), None, found)
        words = []
        for word, spans in zip(argv, self._argv_spans([render(word) for word in argv])):
            flags = bytearray(len(word))
            _mark(flags, word, spans)
            words.append(flags)
        if b"\x01" in secret or any(b"\x01" in flags for flags in words):
            sources = _word_sources(command, argv)
            if sources is None:
                # The words could not be traced back to the command (never
                # expected): hide every argument.
                for flags in words[1:]:
                    flags[:] = b"\x01" * len(flags)
            else:
                for flags, source in zip(words, sources):
                    for run in _RUN.finditer(flags):
                        for offset in range(*run.span()):
                            secret[source[offset]] = 1
                for flags, source in zip(words, sources):
                    flags[:] = bytes(map(secret.__getitem__, source))
        masked_command = _render_masked(command, secret, found, unquote=True)
        masked_argv = [_render_masked(word, flags, found) for word, flags in zip(argv, words)]
        return Masked(masked_command, masked_argv, found)

    def output(self, text: str, secrets: Optional[List[str]] = None) -> str:
        """Mask the secrets in captured output (no program-specific rules)."""
        return _apply(text, self._output_spans(text), secrets)

    def _output_spans(self, text: str) -> List[Span]:
        spans = list(_custom_spans(self.patterns, text))
        # Line by line: the built-in rules never span lines, and most lines
        # of a long output hold no hint at all.
        for offset, line in _hinted_lines(text):
            spans.extend(
                (offset + start, offset + end)
                for start, end in _rule_spans(line, _OUTPUT_RULES)
            )
        return spans

    def tail(
        self,
        data: bytes,
        *,
        context: bytes = b"",
        known: Sequence[str] = (),
        cut: bool = False,
    ) -> str:
        """Mask a captured tail, the last bytes a command wrote to a stream.

        ``context``: the bytes that came just before the tail, read with it
        so that a value whose name fell off the front of the tail
        (``...TOKEN=`` | ``value``) is still recognised.  ``known``: values
        masked in the command, masked wherever they appear (those of at
        least :data:`MIN_KNOWN` characters).  ``cut``: more was written
        before ``context``; a word that runs through all of ``context``
        into the tail began where nothing tells what it was, and the part
        of it in the tail is masked.
        """
        before = render(context)
        text = before + render(data)
        spans = self._output_spans(text)
        for value in set(known):
            if len(value) >= MIN_KNOWN:
                position = text.find(value)
                while position >= 0:
                    spans.append((position, position + len(value)))
                    position = text.find(value, position + 1)
        offset = len(before)
        if cut and not _OUTPUT_DELIMITER.search(before):
            lead = _OUTPUT_LEAD.match(text, offset)
            if lead is not None:
                spans.append(lead.span())
        body = [(max(start, offset) - offset, end - offset) for start, end in spans if end > offset]
        return _apply(text[offset:], body, None)


def render(data: bytes) -> str:
    r"""Decode bytes for logs and records: UTF-8, other bytes as ``\xNN``."""
    return data.decode("utf-8", "backslashreplace")


def render_str(text: str) -> str:
    """Make a ``str`` that may hold lone surrogates (file names) encodable."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return render(text.encode("utf-8", "surrogateescape"))
        except UnicodeEncodeError:
            return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text
