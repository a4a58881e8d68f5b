"""The HTTP connector against a real server on loopback: requests, answers, limits, redirects."""

from __future__ import annotations

import base64
import json
import socket
import time
import tracemalloc
from dataclasses import replace

import pytest

from apps.connectors.http_client import ConnectorError, HttpPolicy, http_request

from .loopback_server import LoopbackServer, gzip_bomb
from .netguard import NetGuard

POLICY = HttpPolicy(allow_loopback=True)


def failure(params: dict[str, object], policy: HttpPolicy = POLICY) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        http_request(params, policy)
    return caught.value


# --- requests -----------------------------------------------------------------


def test_get_json_answers_status_lowercase_headers_and_parsed_body(http: LoopbackServer) -> None:
    answer = http_request({"url": http.url("/json")}, POLICY)
    assert answer["status"] == 200
    assert answer["headers"]["content-type"] == "application/json"
    assert all(name == name.lower() for name in answer["headers"])
    assert answer["body"] == {"hello": "world", "n": 1}
    assert set(answer) == {"status", "headers", "body"}


def test_object_body_is_sent_as_compact_json(http: LoopbackServer) -> None:
    answer = http_request(
        {"method": "POST", "url": http.url("/echo"), "body": {"name": "Zoë", "tags": [1, 2]}},
        POLICY,
    )
    echoed = answer["body"]
    assert echoed["method"] == "POST"
    assert echoed["headers"]["content-type"] == "application/json"
    assert echoed["body"] == '{"name":"Zoë","tags":[1,2]}'
    assert echoed["headers"]["content-length"] == str(len(echoed["body"].encode()))


def test_array_body_keeps_a_content_type_the_caller_set(http: LoopbackServer) -> None:
    answer = http_request(
        {
            "method": "PUT",
            "url": http.url("/echo"),
            "headers": {"Content-Type": "application/vnd.api+json"},
            "body": [{"op": "add"}],
        },
        POLICY,
    )
    assert answer["body"]["headers"]["content-type"] == "application/vnd.api+json"
    assert answer["body"]["body"] == '[{"op":"add"}]'


def test_string_body_is_sent_as_is(http: LoopbackServer) -> None:
    answer = http_request(
        {"method": "POST", "url": http.url("/echo"), "body": "a=1&b={not json}"}, POLICY
    )
    assert answer["body"]["body"] == "a=1&b={not json}"
    assert answer["body"]["headers"]["content-type"] == "text/plain;charset=UTF-8"


def test_string_body_with_caller_content_type(http: LoopbackServer) -> None:
    answer = http_request(
        {
            "method": "PATCH",
            "url": http.url("/echo"),
            "headers": {"content-type": "application/json"},
            "body": '{"already": "encoded"}',
        },
        POLICY,
    )
    assert answer["body"]["body"] == '{"already": "encoded"}'
    assert answer["body"]["headers"]["content-type"] == "application/json"


def test_query_is_encoded_and_appended_to_the_urls_own_query(http: LoopbackServer) -> None:
    answer = http_request(
        {
            "url": http.url("/echo") + "?keep=1%2B1&plus=a+b",
            "query": {
                "q": "a b&c=d/e",
                "n": 3,
                "f": 1.5,
                "whole": 2.0,
                "yes": True,
                "no": False,
                "tags": ["x", "y z"],
                "empty": [],
                "é": "ü",
            },
        },
        POLICY,
    )
    assert answer["body"]["query"] == (
        "keep=1%2B1&plus=a+b&q=a%20b%26c%3Dd%2Fe&n=3&f=1.5&whole=2&yes=true&no=false"
        "&tags=x&tags=y%20z&%C3%A9=%C3%BC"
    )


def test_headers_are_sent_with_defaults_the_caller_can_override(http: LoopbackServer) -> None:
    answer = http_request(
        {
            "url": http.url("/echo"),
            "headers": {"X-Trace": "abc 123", "User-Agent": "my-workflow/1", "Accept": "text/csv"},
        },
        POLICY,
    )
    sent = answer["body"]["headers"]
    assert sent["x-trace"] == "abc 123"
    assert sent["user-agent"] == "my-workflow/1"
    assert sent["accept"] == "text/csv"
    assert sent["host"] == f"127.0.0.1:{http.port}"


def test_host_header_names_the_host_while_the_socket_goes_to_its_address(
    netguard: NetGuard, http: LoopbackServer
) -> None:
    netguard.add_host("api.example.test", "127.0.0.1")
    answer = http_request({"url": http.url("/echo", host="api.example.test")}, POLICY)
    assert answer["body"]["headers"]["host"] == f"api.example.test:{http.port}"
    assert [a.destination for a in netguard.connections] == [repr(("127.0.0.1", http.port))]


def test_lower_case_method_is_accepted(http: LoopbackServer) -> None:
    answer = http_request({"method": "delete", "url": http.url("/echo")}, POLICY)
    assert answer["body"]["method"] == "DELETE"


def test_options_is_supported(http: LoopbackServer) -> None:
    assert http_request({"method": "OPTIONS", "url": http.url("/echo")}, POLICY)["status"] == 200


def test_head_answers_headers_and_an_empty_body(http: LoopbackServer) -> None:
    answer = http_request({"method": "HEAD", "url": http.url("/json")}, POLICY)
    assert answer["status"] == 200
    assert answer["headers"]["content-length"] == "26"
    assert answer["body"] == ""


def test_url_fragment_is_not_sent(http: LoopbackServer) -> None:
    answer = http_request({"url": http.url("/echo") + "#section"}, POLICY)
    assert answer["body"]["path"] == "/echo"


# --- answers ------------------------------------------------------------------


def test_error_statuses_are_answers_not_failures(http: LoopbackServer) -> None:
    answer = http_request({"url": http.url("/status", code=404)}, POLICY)
    assert (answer["status"], answer["body"]) == (404, {"status": 404})
    assert http_request({"url": http.url("/status", code=503)}, POLICY)["status"] == 503


def test_no_content_answers_an_empty_body(http: LoopbackServer) -> None:
    answer = http_request({"url": http.url("/status", code=204)}, POLICY)
    assert (answer["status"], answer["body"]) == (204, "")


def test_broken_json_falls_back_to_text(http: LoopbackServer) -> None:
    assert http_request({"url": http.url("/json-broken")}, POLICY)["body"] == '{"broken": '


def test_text_is_decoded_with_its_charset(http: LoopbackServer) -> None:
    assert http_request({"url": http.url("/text-latin1")}, POLICY)["body"] == "café crème"


def test_untyped_utf8_body_is_text(http: LoopbackServer) -> None:
    assert http_request({"url": http.url("/untyped")}, POLICY)["body"] == "plain words"


def test_binary_body_is_base64_and_flagged(http: LoopbackServer) -> None:
    answer = http_request({"url": http.url("/binary")}, POLICY)
    assert answer["bodyEncoding"] == "base64"
    assert base64.b64decode(answer["body"]) == bytes(range(256))


def test_repeated_headers_are_joined(http: LoopbackServer) -> None:
    answer = http_request({"url": http.url("/multi")}, POLICY)
    assert answer["headers"]["x-multi"] == "one, two"
    assert answer["headers"]["x-upper-case"] == "Yes"


def test_gzip_body_is_decoded(http: LoopbackServer) -> None:
    answer = http_request({"url": http.url("/gzip")}, POLICY)
    assert answer["body"] == {"compressed": True}
    assert answer["headers"]["content-encoding"] == "gzip"


def test_raw_deflate_body_is_decoded(http: LoopbackServer) -> None:
    assert http_request({"url": http.url("/deflate-raw")}, POLICY)["body"] == "raw deflate text"


def test_unrequested_encoding_is_passed_through_as_base64(http: LoopbackServer) -> None:
    answer = http_request({"url": http.url("/brotli")}, POLICY)
    assert answer["bodyEncoding"] == "base64"
    assert base64.b64decode(answer["body"]) == b"\x0b\x02\x80hi\x03"


# --- limits -------------------------------------------------------------------


def test_slow_server_times_out(http: LoopbackServer) -> None:
    started = time.monotonic()
    error = failure({"url": http.url("/slow", delay=3), "timeout": 0.3})
    assert (error.code, error.permanent) == ("HTTP_TIMEOUT", False)
    assert time.monotonic() - started < 1.5


def test_timeout_is_clamped_to_the_policy_maximum(http: LoopbackServer) -> None:
    started = time.monotonic()
    policy = replace(POLICY, max_timeout_s=0.3)
    error = failure({"url": http.url("/slow", delay=3), "timeout": 10_000}, policy)
    assert error.code == "HTTP_TIMEOUT"
    assert time.monotonic() - started < 1.5


def test_default_timeout_applies_when_none_is_given(http: LoopbackServer) -> None:
    policy = replace(POLICY, default_timeout_s=0.3)
    assert failure({"url": http.url("/slow", delay=3)}, policy).code == "HTTP_TIMEOUT"


def test_a_body_that_drips_past_the_deadline_times_out(http: LoopbackServer) -> None:
    # Each byte arrives well within a read timeout; only the overall deadline stops it.
    started = time.monotonic()
    error = failure({"url": http.url("/drip", count=100, interval=0.05), "timeout": 0.5})
    assert error.code == "HTTP_TIMEOUT"
    assert error.status == 200
    assert time.monotonic() - started < 1.5


def test_declared_oversize_body_is_refused_before_reading(http: LoopbackServer) -> None:
    policy = replace(POLICY, max_response_bytes=1000)
    error = failure({"url": http.url("/big", size=1001)}, policy)
    assert (error.code, error.permanent, error.status) == ("RESPONSE_TOO_LARGE", True, 200)
    assert "larger than 1000 bytes" in error.message


def test_undeclared_oversize_body_is_cut_while_streaming(http: LoopbackServer) -> None:
    policy = replace(POLICY, max_response_bytes=100_000)
    error = failure({"url": http.url("/big", size=3_000_000, declare=0)}, policy)
    assert error.code == "RESPONSE_TOO_LARGE"


def test_body_of_exactly_the_cap_is_accepted(http: LoopbackServer) -> None:
    policy = replace(POLICY, max_response_bytes=1000)
    answer = http_request({"url": http.url("/big", size=1000, declare=0)}, policy)
    assert answer["body"] == "a" * 1000


def test_compressed_body_is_capped_after_decoding_without_inflating_it(
    http: LoopbackServer,
) -> None:
    # 100 MB of zeros arrive as ~100 kB of gzip; decoding all of a chunk at once
    # would allocate tens of megabytes before any size check could run.
    gzip_bomb(100_000_000)
    policy = replace(POLICY, max_response_bytes=1_000_000)
    tracemalloc.start()
    try:
        error = failure({"url": http.url("/bomb", size=100_000_000)}, policy)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error.code == "RESPONSE_TOO_LARGE"
    assert peak < 8_000_000


def test_refused_connection_is_a_transient_failure(netguard: NetGuard) -> None:
    # Nothing listens on a port we just freed.
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    error = failure({"url": f"http://127.0.0.1:{port}/"})
    assert (error.code, error.permanent) == ("CONNECTION_FAILED", False)
    assert error.message.startswith("Connection to 127.0.0.1 failed:")


def test_unknown_host_is_a_permanent_failure(netguard: NetGuard) -> None:
    netguard.add_unresolvable("nowhere.example")
    error = failure({"url": "https://nowhere.example/"})
    assert (error.code, error.permanent) == ("CONNECTION_FAILED", True)
    assert error.message.startswith("Could not resolve host nowhere.example")


# --- redirects ----------------------------------------------------------------


def test_follows_relative_redirects_up_to_the_limit(http: LoopbackServer) -> None:
    answer = http_request({"url": http.url("/hops", n=5)}, POLICY)
    assert answer["body"] == {"done": True}
    assert len(http.requests) == 6


def test_one_redirect_too_many_fails(http: LoopbackServer) -> None:
    error = failure({"url": http.url("/hops", n=6)})
    assert (error.code, error.permanent, error.status) == ("TOO_MANY_REDIRECTS", True, 302)
    assert error.message.startswith("Stopped after 5 redirects;")
    assert len(http.requests) == 6


def test_max_redirects_zero_follows_none(http: LoopbackServer) -> None:
    error = failure({"url": http.url("/hops", n=1)}, replace(POLICY, max_redirects=0))
    assert error.code == "TOO_MANY_REDIRECTS"
    assert len(http.requests) == 1


def test_redirect_without_location_is_returned(http: LoopbackServer) -> None:
    answer = http_request({"url": http.url("/redirect", status=302)}, POLICY)
    assert answer["status"] == 302


@pytest.mark.parametrize(
    ("status", "method", "expected_method", "body_kept"),
    [
        (301, "POST", "GET", False),
        (302, "POST", "GET", False),
        (303, "POST", "GET", False),
        (303, "PUT", "GET", False),
        (302, "PUT", "PUT", True),
        (307, "POST", "POST", True),
        (308, "PATCH", "PATCH", True),
    ],
)
def test_redirect_method_and_body_follow_browser_semantics(
    http: LoopbackServer, status: int, method: str, expected_method: str, body_kept: bool
) -> None:
    answer = http_request(
        {
            "method": method,
            "url": http.url("/redirect", to="/echo", status=status),
            "body": {"k": "v"},
        },
        POLICY,
    )
    echoed = answer["body"]
    assert echoed["method"] == expected_method
    assert echoed["body"] == ('{"k":"v"}' if body_kept else "")
    assert ("content-type" in echoed["headers"]) is body_kept


def test_head_stays_head_through_303(http: LoopbackServer) -> None:
    answer = http_request(
        {"method": "HEAD", "url": http.url("/redirect", to="/json", status=303)}, POLICY
    )
    assert answer["status"] == 200
    assert http.requests[-1]["method"] == "HEAD"


def test_credentials_are_kept_on_same_origin_redirects(http: LoopbackServer) -> None:
    answer = http_request(
        {
            "url": http.url("/redirect", to="/echo"),
            "headers": {"Authorization": "Bearer t0k3n", "Cookie": "session=1"},
        },
        POLICY,
    )
    sent = answer["body"]["headers"]
    assert (sent["authorization"], sent["cookie"]) == ("Bearer t0k3n", "session=1")


def test_credentials_are_dropped_when_a_redirect_changes_host(
    netguard: NetGuard, http: LoopbackServer
) -> None:
    netguard.add_host("a.example.test", "127.0.0.1")
    netguard.add_host("b.example.test", "127.0.0.1")
    target = http.url("/echo", host="b.example.test")
    answer = http_request(
        {
            "url": http.url("/redirect", host="a.example.test", to=target),
            "headers": {
                "Authorization": "Bearer t0k3n",
                "Proxy-Authorization": "Basic eA==",
                "Cookie": "session=1",
                "X-Kept": "yes",
            },
        },
        POLICY,
    )
    sent = answer["body"]["headers"]
    assert sent["host"] == f"b.example.test:{http.port}"
    assert "authorization" not in sent
    assert "proxy-authorization" not in sent
    assert "cookie" not in sent
    assert sent["x-kept"] == "yes"
    first = dict(http.requests[0]["headers"])
    assert first["authorization"] == "Bearer t0k3n"


def test_credentials_are_dropped_when_a_redirect_changes_port(
    http: LoopbackServer, server_v6: LoopbackServer
) -> None:
    answer = http_request(
        {
            "url": http.url("/redirect", to=server_v6.url("/echo")),
            "headers": {"Authorization": "Bearer t0k3n"},
        },
        POLICY,
    )
    assert "authorization" not in answer["body"]["headers"]


def test_redirect_answer_has_the_final_response(http: LoopbackServer) -> None:
    answer = http_request({"url": http.url("/redirect", to="/json", status=301)}, POLICY)
    assert (answer["status"], answer["body"]) == (200, {"hello": "world", "n": 1})
    assert json.loads(json.dumps(answer)) == answer
