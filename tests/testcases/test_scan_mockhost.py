"""The calls found in the code, and the mock host answering them (without a sandbox)."""

from __future__ import annotations

import pytest

from apps.runtime import HostError
from apps.testcases.mockhost import MockError, MockHost, validate_mocks
from apps.testcases.scan import calls_in

CODE = """
// fastn.connector.commented.out() is not a call
export default async function (ctx) {
  const orders = await fastn.connector.shopify.getOrders({ limit: 5 });
  const res = await fastn.connectors.http.request({
    method: "post",
    url: `https://api.example.com/v1/orders/${ctx.input.id}/notes`,
    body: { text: "hi" },
  });
  await fastn.connector.http.request({ url: "https://status.example.com/ping" });
  await fastn.connector.shopify.getOrders({ limit: 1 });
  return { orders, res };
}
"""


def test_scan_finds_each_action_and_http_pattern_once_in_source_order():
    assert calls_in(CODE) == [
        "shopify.getOrders",
        "POST https://api.example.com/v1/orders/*/notes",
        "GET https://status.example.com/ping",
    ]


class NoRealHost:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def connector_call(self, *args):
        raise AssertionError("the real host must not be called")


def test_mock_host_answers_actions_and_url_patterns_and_names_unmocked_calls():
    mocks = validate_mocks(
        [
            {"call": "shopify.getOrders", "response": [{"id": 1}]},
            {"call": "POST https://api.example.com/v1/orders/*", "response": {"status": 201}},
            {"call": "https://status.example.com/*", "response": {"up": True}},
        ]
    )
    host = MockHost(mocks, NoRealHost())
    assert host.connector_call("shopify", "getOrders", {}) == [{"id": 1}]
    created = host.connector_call(
        "http", "request", {"method": "POST", "url": "https://api.example.com/v1/orders/9/notes"}
    )
    assert created == {"status": 201, "headers": {}}
    ping = host.connector_call("http", "request", {"url": "https://status.example.com/ping"})
    assert ping == {"status": 200, "headers": {}, "body": {"up": True}}
    with pytest.raises(HostError) as exc:
        host.connector_call(
            "http", "request", {"method": "GET", "url": "https://api.example.com/v1/orders/9"}
        )
    assert exc.value.code == "UNMOCKED_CALL"
    assert "GET https://api.example.com/v1/orders/9" in exc.value.message
    assert host.unmocked == ["fastn.connector.http.request GET https://api.example.com/v1/orders/9"]


def test_a_mock_can_make_the_call_fail():
    host = MockHost(
        validate_mocks(
            [
                {
                    "call": "crm.update",
                    "response": {"$error": {"code": "RATE", "message": "slow down"}},
                }
            ]
        ),
        NoRealHost(),
    )
    with pytest.raises(HostError, match="slow down"):
        host.connector_call("crm", "update", {})


def test_memory_state_behaves_like_fastn_state():
    host = MockHost([], NoRealHost())
    assert host.state_get("k", scope="ORG") is None
    assert host.state_incr("k", 2, scope="ORG", ttl=None) == 2
    assert host.state_set_if_absent("k", 5, scope="ORG", ttl=None) is False
    assert host.state_compare_and_set("k", 2, 3, scope="ORG", ttl=None) is True
    assert host.state_get("k", scope="ORG") == 3
    host.state_delete("k", scope="ORG")
    assert host.state_get("k", scope="ORG") is None


@pytest.mark.parametrize(
    ("mocks", "message"),
    [
        ({"call": "x"}, "must be a list"),
        ([{"call": "nodot", "response": 1}], "neither"),
        ([{"call": "a.b", "response": 1}, {"call": "a.b", "response": 2}], "mocked twice"),
        ([{"call": "a.b", "reply": 1}], "unknown field"),
    ],
)
def test_bad_mocks_are_refused(mocks, message):
    with pytest.raises(MockError, match=message):
        validate_mocks(mocks)
