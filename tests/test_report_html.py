"""``shim report --format html``: one self-contained page, opened in a real browser.

Headless Chromium loads the file, runs its script and dumps the resulting
DOM; the rows it rendered are compared with the records the file was made
from.  CI installs Chromium (``.ci/run``): there a missing browser is a
failure, elsewhere the browser tests are skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import pytest
from shim._tools import cli as _cli

from assumptions import needs_chromium
from test_report import make_record, mixed_records, write_records

if TYPE_CHECKING:
    from pathlib import Path

BROWSERS = ("chromium", "chromium-browser")

TRICKY = [
    "echo '<script>document.title = \"pwned\"</script>'",
    "echo \"</td></tr></table><b>bold</b>\" && echo '&amp; &lt;'",
    "printf 'tab\\there' | cat -A",
]


def browser() -> str:
    """The Chromium binary; fails in CI when there is none, skips elsewhere."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    message = "headless Chromium is needed (Debian package 'chromium'; .ci/run installs it)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


def render_in_browser(page: Path, tmp_path: Path, fragment: str = "") -> str:
    """The DOM of ``page`` after its script ran, as headless Chromium serialises it."""
    binary = browser()
    profile = tmp_path / "chromium-profile"
    env = dict(os.environ, HOME=str(tmp_path))
    result = subprocess.run(
        [
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-extensions", f"--user-data-dir={profile}",
            "--dump-dom", page.resolve().as_uri() + fragment,
        ],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "<table" in result.stdout, result.stderr[-2000:]
    return result.stdout


class Page(HTMLParser):
    """The parts of a report page the tests look at: table, rows, cells, scripts, title."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.table: Dict[str, Optional[str]] = {}
        self.rows: List[Dict[str, Any]] = []
        self.scripts = 0
        self.title = ""
        self._in_title = False
        self._cell: Optional[List[str]] = None
        self.bold = 0

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        attributes = dict(attrs)
        if tag == "table" and attributes.get("id") == "sites":
            self.table = attributes
        elif tag == "tr" and "data-site" in attributes:
            self.rows.append({"attrs": attributes, "cells": []})
        elif tag == "td" and self.rows:
            self._cell = []
        elif tag == "script":
            self.scripts += 1
        elif tag == "title":
            self._in_title = True
        elif tag == "b":
            self.bold += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.rows[-1]["cells"].append("".join(self._cell))
            self._cell = None
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._in_title:
            self.title += data


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


def make_page(tmp_path: Path, records: List[Dict[str, Any]]) -> Path:
    audit = write_records(tmp_path / "audit.jsonl", records)
    page = tmp_path / "report.html"
    assert _cli.main(["report", "--format", "html", "-o", str(page), str(audit)]) == 0
    return page


def site_calls(records: List[Dict[str, Any]]) -> Counter[str]:
    return Counter(f"{r['site']['file']}:{r['site']['line']}" for r in records)


def test_the_page_is_self_contained(tmp_path: Path) -> None:
    """No address, no external resource: style and script are inline, and a CSP forbids loading."""
    text = make_page(tmp_path, mixed_records(50)).read_text()
    for needle in ("http:", "https:", "//", "src=", "href=", "@import", "url("):
        assert needle not in text.replace("<!DOCTYPE", ""), needle
    assert "default-src 'none'" in text
    assert text.count("<script>") == 1
    assert text.count("<style>") == 1


def test_commands_are_escaped_in_the_source(tmp_path: Path) -> None:
    """Markup in commands reaches the page as text: no ``<script>`` or ``<b>`` of theirs."""
    records = [make_record(c, site=("app.py", 10 + i, "f")) for i, c in enumerate(TRICKY)]
    text = make_page(tmp_path, records).read_text()
    assert "<script>document" not in text
    assert "<b>bold</b>" not in text
    assert "&lt;script&gt;document.title = &quot;pwned&quot;&lt;/script&gt;" in text


@needs_chromium
def test_the_browser_renders_every_site_busiest_first(tmp_path: Path) -> None:
    """Rows, in order and with their call counts, match the records; the script ran."""
    records = mixed_records(300, seed=11)
    page = parse(render_in_browser(make_page(tmp_path, records), tmp_path))
    assert page.table.get("data-sortable") == "ready"
    calls = site_calls(records)
    rendered = [(row["attrs"]["data-site"], int(row["attrs"]["data-calls"])) for row in page.rows]
    assert sorted(rendered) == sorted(calls.items())
    assert [n for _, n in rendered] == sorted(calls.values(), reverse=True)
    for row in page.rows:
        assert row["cells"][3].replace(",", "") == str(calls[row["attrs"]["data-site"]])


@needs_chromium
def test_the_table_sorts_in_the_browser(tmp_path: Path) -> None:
    """``#sort=calls`` sorts the rows by calls, ascending, once the script has run."""
    records = mixed_records(300, seed=12)
    calls = site_calls(records)
    page = parse(render_in_browser(make_page(tmp_path, records), tmp_path, "#sort=calls"))
    assert page.table.get("data-sorted") == "calls:asc"
    order = [int(row["attrs"]["data-calls"]) for row in page.rows]
    assert order == sorted(calls.values())
    by_site = parse(render_in_browser(make_page(tmp_path, records), tmp_path, "#sort=site:desc"))
    names = [row["attrs"]["data-site"] for row in by_site.rows]
    assert names == sorted(calls, key=str.lower, reverse=True)


@needs_chromium
def test_commands_render_as_text_in_the_browser(tmp_path: Path) -> None:
    """A command holding markup shows as that text and runs nothing in the page."""
    records = [make_record(c, site=("app.py", 10 + i, "f")) for i, c in enumerate(TRICKY)]
    page = parse(render_in_browser(make_page(tmp_path, records), tmp_path))
    assert page.title == "shim report"
    assert page.scripts == 1
    assert page.bold == 0
    joined = "\n".join(row["cells"][10] for row in page.rows)
    assert TRICKY[0] in joined
    assert TRICKY[1] in joined
    assert "printf 'tab\\\\there' | cat -A" not in joined  # a literal backslash-t is left alone
    assert "printf 'tab\\there' | cat -A" in joined
