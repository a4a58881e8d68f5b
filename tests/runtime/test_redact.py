"""Secret redaction and its encodings."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

from apps.runtime.redact import REDACTED, Redactor, encodings

SECRET = "s3cr3t+/=value"


def test_value_and_its_encodings_are_redacted():
    redactor = Redactor()
    redactor.add(SECRET)
    for form in (
        SECRET,
        base64.b64encode(SECRET.encode()).decode(),
        base64.urlsafe_b64encode(SECRET.encode()).decode().rstrip("="),
        quote(SECRET, safe=""),
        quote_plus(SECRET),
    ):
        assert redactor.text(f"before {form} after") == f"before {REDACTED} after", form


def test_base64_of_a_longer_string_containing_the_secret():
    redactor = Redactor()
    redactor.add(SECRET)
    for prefix in ("", "u:", "us:", "user:"):
        encoded = base64.b64encode((prefix + SECRET + "!").encode()).decode()
        head, marker, tail = redactor.text(encoded).partition(REDACTED)
        assert marker == REDACTED, prefix
        # Only the characters that also carry bits of the prefix or the suffix remain.
        assert len(head) <= -(-len(prefix) * 4 // 3), (prefix, head)
        assert len(tail) <= 4, (prefix, tail)


def test_json_escaped_forms():
    secret = 'quote" and back\\slash and ünïcode'
    redactor = Redactor()
    redactor.add(secret)
    once = json.dumps({"p": secret})
    twice = json.dumps(once)
    assert secret not in redactor.text(once) and REDACTED in redactor.text(once)
    assert REDACTED in redactor.text(twice)
    assert json.dumps(secret)[1:-1] not in redactor.text(twice)


def test_json_secrets_redact_their_values():
    redactor = Redactor()
    redactor.add(
        {"client_id": "abc-123", "key": "k_987654", "port": 5432, "debug": True, "n": None}
    )
    assert redactor.text("abc-123 k_987654 5432 True") == f"{REDACTED} {REDACTED} {REDACTED} True"


def test_short_values_are_not_redacted():
    redactor = Redactor()
    redactor.add("abc")
    assert not redactor.active
    assert redactor.text("abc") == "abc"
    assert all(len(form) >= 4 for form in encodings("abcd"))


def test_values_keys_and_nesting():
    redactor = Redactor()
    redactor.add(SECRET)
    value = {SECRET: [SECRET, {"x": f"a{SECRET}b"}, 3, None]}
    assert redactor.value(value) == {REDACTED: [REDACTED, {"x": f"a{REDACTED}b"}, 3, None]}


def test_cut_text_drops_a_split_secret_at_the_end():
    redactor = Redactor()
    redactor.add(SECRET)
    assert redactor.cut_text("token: " + SECRET[:6]) == "token: "
    assert redactor.cut_text(f"{SECRET} then {SECRET[:3]}") == f"{REDACTED} then "


def test_inactive_redactor_returns_the_same_objects():
    redactor = Redactor()
    value = {"a": ["b"]}
    assert redactor.value(value) is value


# ---- hex, every URL encoder, every base64 alignment ------------------------------------

TOKEN = "tok_Live!9f'(x)*Z"


def test_hex_of_the_secret_in_any_letter_case_is_redacted():
    redactor = Redactor()
    redactor.add(TOKEN)
    lower = TOKEN.encode().hex()
    mixed = "".join(c.upper() if i % 3 == 0 else c for i, c in enumerate(lower))
    for form in (lower, lower.upper(), mixed):
        assert redactor.text(f"digest={form};") == f"digest={REDACTED};", form
    # Hex is byte-aligned: the secret's hex inside a longer hex string is found too.
    longer = ("Bearer " + TOKEN + "\n").encode().hex()
    redacted = redactor.text(longer)
    assert lower not in redacted and REDACTED in redacted
    assert redacted.startswith(b"Bearer ".hex())


def test_hex_of_a_non_ascii_secret_is_of_its_utf8_bytes():
    redactor = Redactor()
    redactor.add("clé-secrète")
    assert redactor.text("clé-secrète".encode().hex().upper()) == REDACTED


def test_url_encodings_of_every_encoder_are_redacted():
    redactor = Redactor()
    redactor.add(TOKEN)
    # encodeURIComponent leaves ! ' ( ) * alone, Python's quote escapes them; some
    # encoders write lower-case escapes.
    encode_uri_component = quote(TOKEN, safe="!*'()")
    assert encode_uri_component == "tok_Live!9f'(x)*Z"  # nothing to escape but what it keeps
    secret = "p@ss w/rd!(1)"
    redactor.add(secret)
    for form in (
        quote(secret, safe="!*'()"),  # encodeURIComponent
        quote(secret, safe="!*'();,/?:@&=+$#"),  # encodeURI
        "p%40ss%20w%2frd%21%281%29",  # lower-case escapes
        quote_plus(secret),
    ):
        assert redactor.text(f"?q={form}&x=1") == f"?q={REDACTED}&x=1", form


def test_base64_at_every_alignment_alphabet_and_padding():
    # "?>" and "~~" make base64 differ between the standard and the URL-safe alphabet.
    secret = "k?>~~k9secret~"
    redactor = Redactor()
    redactor.add(secret)
    core = secret.encode()
    for prefix in (b"", b"a", b"ab", b"abc", b"abcd"):
        for suffix in (b"", b"z", b"zz", b"zzz"):
            for encode in (base64.b64encode, base64.urlsafe_b64encode):
                full = encode(prefix + core + suffix).decode()
                for stream in (full, full.rstrip("=")):
                    redacted = redactor.text(stream)
                    assert REDACTED in redacted, (prefix, suffix, encode, stream)
                    # Only characters that also carry bits of the prefix or suffix remain.
                    head, _, tail = redacted.partition(REDACTED)
                    assert len(head) <= -(-len(prefix) * 4 // 3), (prefix, head)
                    assert len(tail.rstrip("=")) <= -(-len(suffix) * 4 // 3) + 1, (suffix, tail)


def test_cut_text_drops_a_split_hex_secret_at_the_end():
    redactor = Redactor()
    redactor.add(TOKEN)
    cut = "hex: " + TOKEN.encode().hex().upper()[:9]
    assert redactor.cut_text(cut) == "hex: "


def test_a_workflow_that_hex_encodes_a_secret_by_hand_leaks_nothing():
    """End to end through a real sandbox: no Buffer, no btoa, hex built in JavaScript."""
    from apps.runtime import run_workflow
    from tests.runtime.conftest import InMemoryHost

    code = """
    export default async function () {
      const token = await fastn.secrets.get("API_TOKEN");
      let hex = "";
      for (const byte of unescape(encodeURIComponent(token))) {
        hex += byte.charCodeAt(0).toString(16).padStart(2, "0");
      }
      console.log("lower", hex);
      console.log("upper", hex.toUpperCase());
      console.log("uri", encodeURIComponent(token));
      console.log("b64 at offset 1", btoa("x" + token + "yz"));
      await fastn.state.set("k", { hex, upper: hex.toUpperCase() });
      return { hex, upper: hex.toUpperCase(), uri: encodeURIComponent(token) };
    }
    """
    secret = "p@ss!w0rd('xyz')*"
    host = InMemoryHost(secrets={"API_TOKEN": ("text", secret)})
    result = run_workflow(code, {}, host)
    assert result.status == "completed", result.error
    assert result.output == {"hex": REDACTED, "upper": REDACTED, "uri": REDACTED}
    messages = [entry["message"] for entry in result.logs]
    assert messages == [
        f"lower {REDACTED}",
        f"upper {REDACTED}",
        f"uri {REDACTED}",
        messages[3],
    ]
    assert REDACTED in messages[3]
    hex_value = secret.encode().hex()
    stored = json.dumps(result.steps)
    for leaked in (hex_value, hex_value.upper(), quote(secret, safe="!*'()")):
        assert leaked not in stored and all(leaked not in m for m in messages)
