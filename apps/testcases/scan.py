"""The connector and HTTP calls a workflow's code makes, found by a plain scan of the source
(pure Python, no Django), to offer them as mock rows in a MOCK test case.

`fastn.connector.<slug>.<action>(` (and the `fastn.connectors` alias, and `ctx`-less aliases
such as `const { connector } = fastn` are not followed: the scan is a convenience, not a
parser) gives "<slug>.<action>"; `fastn.connector.http.request({ method, url })` gives
"<METHOD> <url>" with each `${…}` of a template literal turned into `*`, the wildcard of URL
patterns."""

from __future__ import annotations

import re

_CALL = re.compile(
    r"\bfastn\s*\.\s*connectors?\s*\.\s*([A-Za-z_$][\w$]*)\s*\.\s*([A-Za-z_$][\w$]*)\s*\("
)
_URL = re.compile(r"""\burl\s*:\s*(?:"([^"\n]*)"|'([^'\n]*)'|`([^`]*)`)""")
_METHOD = re.compile(r"""\bmethod\s*:\s*["'`]([A-Za-z]+)["'`]""")
# How far after `request(` the options object is looked for.
WINDOW = 600


def _strip_comments(code: str) -> str:
    """The code with comments blanked (offsets kept), leaving strings and template literals
    alone: `//` inside "https://…" is not a comment."""
    out, at, quote = list(code), 0, None
    while at < len(code):
        char = code[at]
        if quote:
            if char == "\\":
                at += 2
                continue
            if char == quote:
                quote = None
        elif char in "\"'`":
            quote = char
        elif code.startswith("//", at) or code.startswith("/*", at):
            end = code.find("\n", at) if code[at + 1] == "/" else code.find("*/", at + 2) + 2
            end = len(code) if end in (-1, 1) else end
            for index in range(at, end):
                if out[index] != "\n":
                    out[index] = " "
            at = end
            continue
        at += 1
    return "".join(out)


def http_pattern(method: str | None, url: str) -> str:
    url = re.sub(r"\$\{[^}]*\}", "*", url)
    return f"{(method or 'GET').upper()} {url}" if url else f"{(method or 'GET').upper()} *"


def calls_in(code: str) -> list[str]:
    """The calls in source order, each once: "shopify.getOrders", "GET https://x.io/a/*"."""
    source = _strip_comments(code or "")
    found: dict[str, None] = {}
    for match in _CALL.finditer(source):
        slug, action = match.group(1), match.group(2)
        if slug == "http" and action == "request":
            window = source[match.end() : match.end() + WINDOW]
            # Only the first object literal: stop at the call's closing parenthesis.
            window = window.split(")", 1)[0] if "`" not in window.split(")", 1)[0] else window
            url = _URL.search(window)
            method = _METHOD.search(window)
            text = next((g for g in url.groups() if g is not None), "") if url else ""
            found[http_pattern(method.group(1) if method else None, text)] = None
        else:
            found[f"{slug}.{action}"] = None
    return list(found)
