"""Replace secret values read during a run by `[REDACTED]` wherever results are kept.

Applied in the caller's process to the final logs, output, steps and error, because
that is where the data stops changing. Besides the value itself it covers the
encodings a workflow typically puts secrets through on their way into a header or a
log line:

- JSON string escaping (also twice, for JSON inside JSON);
- URL encoding as Python's `quote`/`quote_plus` and JavaScript's `encodeURIComponent`
  and `encodeURI` write it, with upper- or lower-case `%xx` digits;
- hex of the UTF-8 bytes, in any letter case (`abcd`, `ABCD`, `aBcD`); hex is
  byte-aligned, so the secret's hex inside a longer hex string is found too;
- base64 and base64url, with or without padding — including base64 of a longer
  string that contains the secret (`Basic base64("user:" + token)`), by matching the
  characters that depend only on the secret's bytes at each of the three possible
  alignments.

Values shorter than MIN_LENGTH characters are not matched: replacing every "1" or
"on" in the logs would destroy them while protecting nothing.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "[REDACTED]"
MIN_LENGTH = 4
# What JavaScript leaves unescaped besides letters, digits and `-_.~`.
_ENCODE_URI_COMPONENT_SAFE = "!*'()"
_ENCODE_URI_SAFE = _ENCODE_URI_COMPONENT_SAFE + ";,/?:@&=+$#"
_PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")


def _base64_forms(raw: bytes) -> set[str]:
    forms = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        full = encode(raw).decode()
        forms.update((full, full.rstrip("=")))
        for shift in range(3):
            shifted = encode(b"\0" * shift + raw).decode()
            # Characters made only of the secret's bits: from the first 6-bit group
            # that starts inside the secret to the last one that ends inside it.
            start = -(-8 * shift // 6)
            end = 8 * (shift + len(raw)) // 6
            forms.add(shifted[start:end])
    return forms


def _url_forms(value: str) -> set[str]:
    forms = {
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
        quote(value, safe=_ENCODE_URI_COMPONENT_SAFE),
        quote(value, safe=_ENCODE_URI_SAFE),
    }
    # Some encoders write the escapes' hex digits in lower case.
    return forms | {_PERCENT_ESCAPE.sub(lambda m: m.group().lower(), form) for form in forms}


def encodings(value: str) -> set[str]:
    """The value and its common encodings (only those of a useful length).

    Hex is not among them: `hex_form` gives it, matched regardless of letter case."""
    forms = {value}
    escaped = json.dumps(value)[1:-1]
    forms.update(
        (
            escaped,
            json.dumps(value, ensure_ascii=False)[1:-1],
            json.dumps(escaped)[1:-1],
        )
    )
    forms |= _url_forms(value)
    forms |= _base64_forms(value.encode("utf-8"))
    return {form for form in forms if len(form) >= MIN_LENGTH}


def hex_form(value: str) -> str:
    """The hex of the value's UTF-8 bytes, lower case (matched in any case)."""
    return value.encode("utf-8").hex()


class Redactor:
    def __init__(self) -> None:
        self._forms: set[str] = set()
        self._hex_forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    @property
    def active(self) -> bool:
        return bool(self._forms)

    def add(self, secret: Any) -> None:
        """Remember a secret: a string, or every string and number inside a JSON value."""
        if isinstance(secret, str):
            if len(secret) >= MIN_LENGTH:
                self._forms |= encodings(secret)
                self._hex_forms.add(hex_form(secret))
                self._pattern = None
        elif isinstance(secret, bool) or secret is None:
            return
        elif isinstance(secret, int | float):
            self.add(str(secret))
        elif isinstance(secret, dict):
            for item in secret.values():
                self.add(item)
        elif isinstance(secret, list):
            for item in secret:
                self.add(item)

    def _compiled(self) -> re.Pattern[str]:
        if self._pattern is None:
            # Longest first, so a value wins over a shorter encoding inside it. Hex is
            # matched case-insensitively: `toString(16)` writes lower case, `%X` upper,
            # and a hand-made table may mix them.
            alternatives = [(form, re.escape(form)) for form in self._forms]
            alternatives += [(form, f"(?i:{form})") for form in self._hex_forms]
            alternatives.sort(key=lambda item: len(item[0]), reverse=True)
            self._pattern = re.compile("|".join(pattern for _form, pattern in alternatives))
        return self._pattern

    def text(self, text: str) -> str:
        if not self._forms or not text:
            return text
        return self._compiled().sub(REDACTED, text)

    def value(self, value: Any) -> Any:
        """A copy of a JSON value with every string (keys too) redacted."""
        if not self._forms:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(key)): self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value

    def cut_text(self, text: str) -> str:
        """Redact text that was cut short: the cut may have split a secret, leaving a
        prefix that no longer matches. Drop any such trailing fragment first."""
        if not self._forms or not text:
            return text
        forms = [(form, False) for form in self._forms]
        forms += [(form, True) for form in self._hex_forms]
        for form, any_case in sorted(forms, key=lambda item: len(item[0]), reverse=True):
            for length in range(min(len(form) - 1, len(text)), 0, -1):
                tail = text[len(text) - length :]
                if (tail.lower() if any_case else tail) == form[:length]:
                    text = text[: len(text) - length]
                    break
        return self.text(text)
