"""Hostile input for tests/tcp/test_hostile_input.py: the corpus of bad values, the forms a page
offers (read from its HTML, as a browser would) and a crawl that finds every page a person
can reach by following links.

A value is kept as the bytes or text each kind of entry point carries: a form field takes
percent-encoded bytes (so a lone surrogate arrives as the invalid UTF-8 a browser could send,
%ED%A0%80), a JSON body takes text (json.dumps writes the lone surrogate as the escape
"\\ud800").
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit

from django.conf import settings
from django.test import Client
from django.urls import Resolver404, resolve

HUGE_LENGTH = 10 * 1024 * 1024  # 10 MB


@dataclass(frozen=True)
class Bad:
    """One hostile value: its name in a failure, the form bytes and the JSON value."""

    name: str
    form: bytes  # raw bytes of the value in a form or a query string
    json: Any  # the value in a JSON body


def _bad(name: str, text: str, json_value: Any = None) -> Bad:
    return Bad(name, text.encode(), text if json_value is None else json_value)


LONE_SURROGATE = Bad("lone surrogate", b"a\xed\xa0\x80b", "a\ud800b")

# Each value is sent into every field; the huge ones (HUGE) once per kind of entry point.
CORPUS: list[Bad] = [
    _bad("NUL byte", "a\x00b"),
    LONE_SURROGATE,
    _bad("2**63", str(2**63), 2**63),
    _bad("-2**63-1", str(-(2**63) - 1), -(2**63) - 1),
    _bad("1e309", "1e309"),
    _bad("NaN", "NaN"),
    _bad("-1", "-1", -1),
    _bad("0", "0", 0),
    _bad("99999999999", "99999999999", 99999999999),
    _bad("month 13", "2026-13-45"),
    _bad("yesterday", "yesterday"),
    _bad("year 0", "0000-00-00"),
    _bad("malformed UUID", "00000000-0000-0000-0000-00000000000g"),
    _bad("script", "<script>alert(1)</script>"),
    _bad("remote image", '<img src="http://127.0.0.1:9/x.png">'),
    _bad("empty", ""),
]
HUGE_STRING = Bad("10 MB string", b"x" * HUGE_LENGTH, "x" * HUGE_LENGTH)
# A million digits: int() of it is refused by Python's digit limit, not slowly computed.
HUGE_NUMBER = Bad("a 10,000-digit number", b"9" * 10_000, "9" * 10_000)

NESTING = 10_000


def nested_json(depth: int = NESTING) -> bytes:
    """A JSON document `depth` arrays deep: more than Python's recursion limit."""
    return b"[" * depth + b"]" * depth


def oversize_body() -> bytes:
    """A JSON body larger than Django will read into memory."""
    size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1024
    return json.dumps({"name": "x" * size}).encode()


def encode_form(pairs: list[tuple[str, bytes]]) -> bytes:
    """An application/x-www-form-urlencoded body of raw byte values."""
    return b"&".join(quote(k).encode() + b"=" + quote(v, safe=b"").encode() for k, v in pairs)


def query_string(pairs: list[tuple[str, bytes]]) -> str:
    return encode_form(pairs).decode("ascii")


# Forms in a page -----------------------------------------------------------------------------


@dataclass
class Field:
    name: str
    kind: str  # the input's type, "select", "textarea"
    value: str  # what the page would send as it stands
    send: bool  # an unchecked checkbox or radio sends nothing


@dataclass
class Form:
    page: str  # the URL of the page it is on
    method: str
    action: str  # absolute path, query included
    enctype: str
    htmx: bool = False  # the page posts it with htmx (hx-post) when JavaScript runs
    fields: list[Field] = field(default_factory=list)

    @property
    def route(self) -> str:
        return route_of(self.action)

    def baseline(self) -> list[tuple[str, str]]:
        """The pairs a browser would send as the page stands (the first submit button)."""
        pairs = [(f.name, f.value) for f in self.fields if f.send and f.kind != "submit"]
        submits = [f for f in self.fields if f.kind == "submit"]
        if submits:
            pairs.append((submits[0].name, submits[0].value))
        return pairs

    def targets(self) -> list[str]:
        """The fields a person can type or pick into (each name once)."""
        seen: list[str] = []
        for f in self.fields:
            if f.name not in seen and f.name != "csrfmiddlewaretoken" and f.kind != "submit":
                seen.append(f.name)
        return seen

    def key(self) -> tuple[str, str, tuple[str, ...]]:
        # Two forms of the same route with the same fields test the same code, whichever row
        # their prefix names (scope-item-1-title, scope-item-2-title).
        names = {ROW_PREFIX.sub("-N-", name) for name in self.targets()}
        return (self.method, self.route, tuple(sorted(names)))


ROW_PREFIX = re.compile(r"-[0-9]+-")


class _FormParser(HTMLParser):
    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.page = page
        self.forms: list[Form] = []
        self.links: list[str] = []
        self._form: Form | None = None
        self._select: Field | None = None
        self._select_first: str | None = None
        self._option: tuple[str | None, bool] | None = None
        self._option_text = ""
        self._textarea: Field | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href") and not a["href"].startswith(("mailto:", "tel:")):
            self.links.append(urljoin(self.page, a["href"]))
        if tag == "form":
            method = (a.get("method") or "get").lower()
            action = urljoin(self.page, a.get("action") or self.page)
            self._form = Form(
                page=self.page,
                method=method,
                action=_path(action),
                enctype=a.get("enctype") or "application/x-www-form-urlencoded",
                htmx="hx-post" in a,
            )
            self.forms.append(self._form)
            return
        form = self._form
        if form is None or "name" not in a:
            if tag == "option" and self._select is not None:
                self._start_option(a)
            return
        name = a["name"]
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                form.fields.append(Field(name, kind, a.get("value") or "on", "checked" in a))
            elif kind == "file":
                form.fields.append(Field(name, kind, "", False))
            elif kind in ("submit", "image"):
                form.fields.append(Field(name, "submit", a.get("value", ""), True))
            elif kind not in ("button", "reset"):
                form.fields.append(Field(name, kind, a.get("value", ""), True))
        elif tag == "button" and (a.get("type") or "submit") == "submit":
            form.fields.append(Field(name, "submit", a.get("value", ""), True))
        elif tag == "select":
            self._select = Field(name, "select", "", True)
            self._select_first = None
            form.fields.append(self._select)
        elif tag == "textarea":
            self._textarea = Field(name, "textarea", "", True)
            form.fields.append(self._textarea)

    def _start_option(self, a: dict[str, str]) -> None:
        self._option = (a.get("value"), "selected" in a)
        self._option_text = ""

    def _end_option(self) -> None:
        if self._option is None or self._select is None:
            return
        value, selected = self._option
        value = self._option_text.strip() if value is None else value
        if self._select_first is None and value:
            self._select_first = value
        if selected:
            self._select.value = value
        self._option = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea.value += data
        if self._option is not None:
            self._option_text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "option":
            self._end_option()
        elif tag == "select" and self._select is not None:
            self._end_option()
            if not self._select.value:
                # No option selected: a browser sends the first one.
                self._select.value = self._select_first or ""
            self._select = None


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def route_of(path: str) -> str:
    """The URL pattern a path resolves to (its name), or the path when none does."""
    try:
        match = resolve(urlsplit(path).path)
    except Resolver404:
        return urlsplit(path).path
    return match.view_name or match.route


def parse_page(url: str, html: str) -> tuple[list[Form], list[str]]:
    """The forms and the links of a page."""
    parser = _FormParser(url)
    parser.feed(html)
    parser.close()
    return parser.forms, parser.links


# Crawl ---------------------------------------------------------------------------------------

# Not followed: signing out, the back office, the API (tested through its schema), files.
SKIP_PREFIXES = ("/logout/", "/admin/", "/api/", "/static/", "/media/")
PAGES_PER_ROUTE = 2
QUERY_VARIANTS_PER_ROUTE = 2


@dataclass
class Crawl:
    pages: dict[str, str] = field(default_factory=dict)  # url -> route
    forms: list[Form] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # pages that answered 5xx
    requests: int = 0


def crawl(client: Client, start: list[str], limit: int = 400) -> Crawl:
    """Follow the links of `start` breadth first, at most PAGES_PER_ROUTE pages of each URL
    pattern (plus a few query-string variants); collect every form on the pages."""
    found = Crawl()
    per_route: dict[tuple[str, bool], int] = {}
    queue = list(start)
    while queue and len(found.pages) < limit:
        url = _path(queue.pop(0))
        host = urlsplit(url)
        if host.netloc or url in found.pages or url.startswith(SKIP_PREFIXES):
            continue
        route = route_of(url)
        slot = (route, bool(host.query))
        cap = QUERY_VARIANTS_PER_ROUTE if host.query else PAGES_PER_ROUTE
        if per_route.get(slot, 0) >= cap:
            continue
        per_route[slot] = per_route.get(slot, 0) + 1
        response = client.get(url)
        found.requests += 1
        found.pages[url] = route
        if response.status_code >= 500:
            found.failures.append(f"GET {url}: {response.status_code}")
            continue
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        forms, links = parse_page(url, response.content.decode())
        found.forms.extend(forms)
        queue.extend(links)
        # A GET form is a link with its fields: follow it as the page would send it.
        queue.extend(
            f"{f.action.split('?')[0]}?{urlencode(f.baseline())}"
            for f in forms
            if f.method == "get"
        )
    return found


def query_pairs(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def distinct_forms(forms: list[Form]) -> Iterator[Form]:
    seen: set[tuple[str, str, tuple[str, ...]]] = set()
    for form in forms:
        if form.key() not in seen:
            seen.add(form.key())
            yield form


# Sending and keeping count -------------------------------------------------------------------


def multipart(pairs: list[tuple[str, bytes]], files: set[str]) -> tuple[bytes, str]:
    """A multipart/form-data body of raw byte values; the names in `files` as uploads."""
    boundary = "hostile-boundary-7f3a"
    body = b""
    for name, value in pairs:
        filename = f'; filename="{name}.txt"' if name in files else ""
        body += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"{filename}\r\n\r\n'
            ).encode()
            + value
            + b"\r\n"
        )
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def form_body(form: Form, pairs: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    if "multipart" in form.enctype:
        files = {f.name for f in form.fields if f.kind == "file"}
        return multipart(pairs, files)
    return encode_form(pairs), "application/x-www-form-urlencoded"


@dataclass
class Tally:
    """Every request sent, and what was wrong with the answers."""

    tried: int = 0
    server_errors: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    def count(self, what: str, status: int) -> bool:
        """Count one request; False (and noted) when it was a server error."""
        self.tried += 1
        if status >= 500:
            self.server_errors.append(f"{what}: {status}")
            return False
        return True

    def report(self) -> str:
        shown = self.server_errors[:60] + self.wrong[:60]
        return (
            f"{len(self.server_errors)} server errors and {len(self.wrong)} wrong answers "
            f"in {self.tried} requests:\n" + "\n".join(shown)
        )
