"""``shim report --format html``: one self-contained page people read, checked in a real browser.

Headless Chromium loads the page at 1400 and 800 pixels wide, with a test
script added to a copy of it (the page's CSP allows inline scripts only,
which is how its own script runs too).  The script measures whether
anything overflows horizontally, types into the filter box, picks sort
orders, and writes what it saw into the page; Chromium's ``--dump-dom``
hands that back.  CI installs Chromium (``.ci/run``): there a missing
browser is a failure, elsewhere the browser tests are skipped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest
from shim._tools import cli as _cli

from test_report import make_record, write_records

BROWSERS = ("chromium", "chromium-browser")

TRICKY = [
    "echo '<script>document.title = \"pwned\"</script>'",
    "echo \"</td></tr></table><b>bold</b>\" && echo '&amp; &lt;'",
    "printf 'tab\\there' | cat -A",
]

APP = """\
import os
import sys


def build(target):
    os.system(f"make -C {target} all")
    if os.system("make check > /dev/null"):
        sys.exit(1)


def deploy(host, long_name_of_a_variable_holding_the_destination_directory):
    status = os.system(
        "rsync -a --delete build/ "
        + host
        + ":/srv/a/very/long/path/that/goes/on/and/on/for/quite/some/time/"
        + long_name_of_a_variable_holding_the_destination_directory
    )
    return status


def clean():
    os.system("rm -rf build")


def docs():
    os.system("make html")
"""


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


def dump_dom(page: Path, tmp_path: Path, width: int, fragment: str = "") -> str:
    """The DOM of ``page`` after its scripts ran, in a window ``width`` pixels wide."""
    binary = browser()
    profile = tmp_path / f"chromium-profile-{width}"
    env = dict(os.environ, HOME=str(tmp_path))
    result = subprocess.run(
        [
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-extensions", "--hide-scrollbars",
            f"--user-data-dir={profile}", f"--window-size={width},1000",
            "--virtual-time-budget=5000", "--dump-dom", page.resolve().as_uri() + fragment,
        ],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "</main>" in result.stdout, result.stderr[-2000:]
    return result.stdout


# The test's own script: run after the page's, it measures, filters and sorts.
PROBE = """
<script>
(function () {
  "use strict";
  var out = {};
  var root = document.getElementById("sites");
  function overflow() {
    var doc = document.documentElement;
    var worst = 0;
    Array.prototype.forEach.call(document.querySelectorAll("body *"), function (el) {
      var box = el.getBoundingClientRect();
      if (box.width > 0 && box.right > worst) { worst = box.right; }
    });
    return {scrollWidth: doc.scrollWidth, clientWidth: doc.clientWidth,
            innerWidth: window.innerWidth, rightmost: Math.ceil(worst)};
  }
  function visible() {
    return Array.prototype.filter.call(root.querySelectorAll("article.site"), function (a) {
      return !a.hidden && a.offsetParent !== null;
    }).map(function (a) { return a.getAttribute("data-name"); });
  }
  function order() {
    return Array.prototype.map.call(root.querySelectorAll("article.site"), function (a) {
      return a.getAttribute("data-name");
    });
  }
  out.ready = root.getAttribute("data-ready");
  out.initial = {order: order(), visible: visible(), overflow: overflow()};
  var filter = document.getElementById("filter");
  var sort = document.getElementById("sort");
  filter.value = "rsync";
  filter.dispatchEvent(new Event("input"));
  out.filtered = {visible: visible(), shown: document.getElementById("shown").textContent,
                  sections: Array.prototype.filter.call(root.querySelectorAll("section.file"),
                    function (s) { return !s.hidden; }).length, overflow: overflow()};
  filter.value = "NEEDS   shell";
  filter.dispatchEvent(new Event("input"));
  out.words = visible();
  filter.value = "";
  filter.dispatchEvent(new Event("input"));
  ["failures", "name", "duration", "calls"].forEach(function (key) {
    sort.value = key;
    sort.dispatchEvent(new Event("change"));
    out["sort_" + key] = order();
  });
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}());
</script>
"""


def probe(page: Path, tmp_path: Path, width: int, fragment: str = "") -> Dict[str, Any]:
    """Run :data:`PROBE` on a copy of ``page`` in a window ``width`` pixels wide."""
    copy = tmp_path / f"probe-{width}.html"
    copy.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    dom = dump_dom(copy, tmp_path, width, fragment)
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.DOTALL)
    assert found, dom[-3000:]
    data: Dict[str, Any] = json.loads(_unescape(found.group(1)))
    return data


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)


def records_for(tmp_path: Path) -> List[Dict[str, Any]]:
    """A project with real source, failures, a refused call and a site whose file is gone."""
    app = tmp_path / "src" / "deploy_tools" / "app.py"
    app.parent.mkdir(parents=True)
    app.write_text(APP)
    where = str(app)
    long_path = "/srv/a/very/long/path/that/goes/on/and/on/for/quite/some/time/x"
    records = [
        *(make_record("make -C lib all", site=(where, 6, "build"), mode="auto", second=second)
          for second in range(12)),
        *(make_record("make check > /dev/null", site=(where, 7, "build"), status=status, mode="auto")
          for status in (0, 256, 512, 0, 256)),
        *(make_record(f"rsync -a --delete build/ {host}:{long_path}", site=(where, 12, "deploy"),
                      mode="auto", duration_ms=1200.0)
          for host in ("web1", "web2", "web3")),
    ]
    refused = make_record("rm -rf build", site=(where, 22, "clean"), mode="never")
    refused.update(status=None, outcome="refused", shell=False, shell_reason="glob",
                   exit_code=None, signal=None)
    records.append(refused)
    records.append(make_record(
        "ls /" + "x" * 300, site=(str(tmp_path / "gone" / ("a_very_long_file_name_" * 6 + ".py")), 3, "f"),
    ))
    return records


def make_page(tmp_path: Path, records: List[Dict[str, Any]]) -> Path:
    audit = write_records(tmp_path / "audit.jsonl", records)
    page = tmp_path / "report.html"
    assert _cli.main([
        "report", "--format", "html", "-o", str(page), "--source-root", str(tmp_path), str(audit),
    ]) == 0
    return page


class Page(HTMLParser):
    """The parts of a report page the tests look at."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.articles: List[Dict[str, Optional[str]]] = []
        self.sections: List[Dict[str, Optional[str]]] = []
        self.tags: List[str] = []
        self.marks: List[str] = []
        self.svg_rects: List[Dict[str, Optional[str]]] = []
        self._mark: Optional[List[str]] = None

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        attributes = dict(attrs)
        self.tags.append(tag)
        if tag == "article":
            self.articles.append(attributes)
        elif tag == "section" and "file" in (attributes.get("class") or ""):
            self.sections.append(attributes)
        elif tag == "mark":
            self._mark = []
        elif tag == "rect":
            self.svg_rects.append(attributes)

    def handle_endtag(self, tag: str) -> None:
        if tag == "mark" and self._mark is not None:
            self.marks.append("".join(self._mark))
            self._mark = None

    def handle_data(self, data: str) -> None:
        if self._mark is not None:
            self._mark.append(data)


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


# -- the page as a file ----------------------------------------------------------------


def test_the_page_is_self_contained(tmp_path: Path) -> None:
    """No address, no external resource: style, script and picture inline; a CSP forbids loading."""
    text = make_page(tmp_path, records_for(tmp_path)).read_text()
    for needle in ("http:", "https:", "src=", "href=", "@import", "url(", "<link", "<img", "<iframe"):
        assert needle not in text, needle
    assert "//" not in text.replace("<!DOCTYPE", "").split("<script>")[0].replace("http://www.w3.org", "")
    assert "Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; " in text
    assert text.count("<script>") == 1
    assert text.count("<style>") == 1
    assert text.count("<svg") == 1


def test_sites_are_grouped_by_file_with_the_call_highlighted(tmp_path: Path) -> None:
    """One section per file, busiest first; each site's source with the call marked, whole."""
    page = parse(make_page(tmp_path, records_for(tmp_path)).read_text())
    names = [Path(section["data-name"] or "").name for section in page.sections]
    assert names[0] == "app.py"
    states = {article["data-name"].rsplit(":", 1)[-1]: article["data-state"] for article in page.articles
              if "app.py" in (article["data-name"] or "")}
    assert states == {
        "6": "could drop the shell", "7": "needs a shell", "12": "could drop the shell",
        "22": "refused", "26": "not run",
    }
    failed = [a for a in page.articles if "has-failures" in (a.get("class") or "")]
    assert [a["data-name"].rsplit(":", 1)[-1] for a in failed] == ["7"]
    assert 'os.system(f"make -C {target} all")' in page.marks
    assert "os.system(" in page.marks  # the call over several lines: each of its lines is marked
    assert "    + long_name_of_a_variable_holding_the_destination_directory" in page.marks
    rects = {rect.get("class"): float(rect["width"] or 0) for rect in page.svg_rects}
    assert rects == {"s-drop": 500.0, "s-shell": 166.67, "s-refused": 166.67, "s-notrun": 166.67}


def test_shell_free_is_a_success_and_failures_are_marked(tmp_path: Path) -> None:
    """A site that needs no shell says so in green words, never a red zero; failures are counted in red."""
    text = make_page(tmp_path, records_for(tmp_path)).read_text()
    assert '<span class="badge drop">\u2713 no shell needed</span>' in text
    assert '<span class="badge failed">3 failed</span>' in text
    assert '<span class="badge shell">needs a shell: redirection</span>' in text
    assert '<span class="badge refused">1 refused</span>' in text
    assert '<span class="badge notrun">not run</span>' in text
    assert ">0<" not in text


def test_commands_are_escaped_in_the_source(tmp_path: Path) -> None:
    """Markup in commands reaches the page as text: no ``<script>`` or ``<b>`` of theirs."""
    records = [make_record(c, site=("app.py", 10 + i, "f")) for i, c in enumerate(TRICKY)]
    text = make_page(tmp_path, records).read_text()
    assert "<script>document" not in text
    assert "<b>bold</b>" not in text
    assert "&lt;script&gt;document.title = &quot;pwned&quot;&lt;/script&gt;" in text


# -- the page in a browser --------------------------------------------------------------


@pytest.mark.parametrize("width", [1400, 800])
def test_nothing_overflows_and_filter_and_sort_work_in_the_browser(tmp_path: Path, width: int) -> None:
    """At 1400 and 800 px: no horizontal overflow, the filter hides what does not match, sorting reorders."""
    page = make_page(tmp_path, records_for(tmp_path))
    seen = probe(page, tmp_path, width)
    assert seen["ready"] == "yes"
    for state in (seen["initial"], seen["filtered"]):
        sizes = state["overflow"]
        assert sizes["innerWidth"] == width
        assert sizes["scrollWidth"] <= sizes["clientWidth"], sizes
        assert sizes["rightmost"] <= sizes["clientWidth"], sizes
    everything = seen["initial"]["order"]
    assert len(everything) == 6
    assert seen["initial"]["visible"] == everything
    assert [name.rsplit(":", 1)[-1] for name in seen["filtered"]["visible"]] == ["12"]
    assert seen["filtered"]["shown"] == "1 of 6 sites"
    assert seen["filtered"]["sections"] == 1
    assert [name.rsplit(":", 1)[-1] for name in seen["words"]] == ["7"]
    lines = {name: int(name.rsplit(":", 1)[-1]) for name in everything}
    app = [name for name in everything if "app.py" in name]
    assert [lines[n] for n in seen["sort_calls"] if n in app] == [6, 7, 12, 22, 26]
    assert [lines[n] for n in seen["sort_failures"] if n in app] == [7, 6, 12, 22, 26]
    assert [lines[n] for n in seen["sort_name"] if n in app] == [6, 7, 12, 22, 26]
    assert next(lines[n] for n in seen["sort_duration"] if n in app) == 12
    # The file with the calls comes first, the file that is gone (one call) after it.
    assert "app.py" in seen["sort_calls"][0] and "app.py" not in seen["sort_calls"][-1]
    assert "app.py" not in seen["sort_name"][0]  # ".../gone/..." sorts before ".../src/..."


def test_the_address_sets_sort_and_filter_on_load(tmp_path: Path) -> None:
    """``#sort=failures&filter=make`` applies both as the page opens."""
    page = make_page(tmp_path, records_for(tmp_path))
    seen = probe(page, tmp_path, 1400, "#sort=failures&filter=make")
    assert [name.rsplit(":", 1)[-1] for name in seen["initial"]["visible"]] == ["7", "6", "26"]


def test_commands_render_as_text_in_the_browser(tmp_path: Path) -> None:
    """A command holding markup shows as that text and runs nothing in the page."""
    records = [make_record(c, site=("app.py", 10 + i, "f")) for i, c in enumerate(TRICKY)]
    dom = dump_dom(make_page(tmp_path, records), tmp_path, 1400)
    assert "<title>shim report</title>" in dom
    assert "<b>bold</b>" not in dom
    assert "&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;b&gt;bold&lt;/b&gt;" in dom
    assert dom.count("<script>") == 1
