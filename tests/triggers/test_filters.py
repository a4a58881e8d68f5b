"""Route filters: path syntax, every operator both ways, header paths, missing paths, type
mismatches, validation messages, and a property: evaluating never raises on any JSON body."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from apps.triggers.filters import (
    MAX_ROWS,
    OPERATORS,
    Filter,
    FilterError,
    explain,
    extract,
    matches,
    parse_filters,
    parse_path,
)

EVENT = {
    "type": "invoice.paid",
    "data": {
        "amount": 120,
        "amount_text": "120.50",
        "currency": "EUR",
        "paid_at": "2024-05-01T10:30:00Z",
        "customer": {"email": "ada@example.com", "vip": True, "tags": ["b2b", "eu", 7]},
        "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 0}],
        "note": None,
        "zip": "007",
    },
    "a.b": {"first name": "Ada"},
    "0": "key zero",
}
HEADERS = {"X-GitHub-Event": "push", "Content-Length": "512", "X-Empty": ""}


def holds(path, operator, value=None, body=EVENT, headers=HEADERS) -> bool:
    row = {"path": path, "operator": operator}
    if value is not None or operator != "exists":
        row["value"] = value
    return matches(parse_filters([row]), body, headers)


# --- paths


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("type", "invoice.paid"),
        ("data.amount", 120),
        ("data.customer.email", "ada@example.com"),
        ("data.items[0].sku", "A-1"),
        ("data.items.1.sku", "B-2"),
        ("data.items[1].qty", 0),
        ("data.customer.tags[2]", 7),
        ('["a.b"]["first name"]', "Ada"),
        ('data["customer"].email', "ada@example.com"),
        ("data.note", None),
        ("0", "key zero"),
        ("[0]", "key zero"),
        ('["0"]', "key zero"),
        ('["type"]', "invoice.paid"),
    ],
)
def test_extract_finds_values(path, expected):
    assert extract(EVENT, path) == (True, expected)


@pytest.mark.parametrize(
    "path",
    ["missing", "data.missing", "data.items[2]", "data.items.9", 'data.items["0"]', "type.x"],
)
def test_extract_reports_missing_paths(path):
    assert extract(EVENT, path) == (False, None)


def test_extract_on_an_array_body_and_a_non_json_body():
    assert extract([{"id": 1}], "[0].id") == (True, 1)
    assert extract([{"id": 1}], "0.id") == (True, 1)
    assert extract(None, "data") == (False, None)
    assert extract("text body", "data") == (False, None)


def test_extract_reads_headers_case_insensitively_for_dedup_keys():
    assert extract(EVENT, "$headers.x-github-event", HEADERS) == (True, "push")
    assert extract(EVENT, '$headers["X-GITHUB-EVENT"]', HEADERS) == (True, "push")
    assert extract(EVENT, "$headers.x-missing", HEADERS) == (False, None)
    assert extract(EVENT, "$headers.x-github-event") == (False, None)


def test_a_body_key_named_dollar_headers_is_reachable_when_quoted():
    assert extract({"$headers": {"a": 1}}, '["$headers"].a') == (True, 1)


def test_leading_zero_digits_are_a_key_not_an_index():
    assert extract({"007": "bond"}, "007") == (True, "bond")
    assert extract(["x"], "00") == (False, None)


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("", "empty"),
        ("a..b", "empty key"),
        (".a", "empty key"),
        ("a.", "empty key"),
        ("a[0", "missing ]"),
        ("a]", "] without ["),
        ("a.[0]", "empty key"),
        ("]", "] without ["),
        ("a[", "after ["),
        ("a[]", "after ["),
        ("a[-1]", "after ["),
        ("a[1.5]", "after ["),
        ("a[true]", "after ["),
        ('a["b"', "missing ]"),
        ('a["b]', "after ["),
        ("first name", "quote keys with spaces"),
        ('a."b"', "quote keys"),
        ("a[0]b", "expected . or ["),
        ("$headers", "names one header"),
        ("$headers.a.b", "names one header"),
        ("$headers[0]", "names one header"),
        ("a" * 501, "longer than 500"),
    ],
)
def test_malformed_paths_are_refused_precisely(path, problem):
    with pytest.raises(FilterError) as caught:
        parse_path(path)
    assert problem in caught.value.message
    assert caught.value.field == "path"


def test_path_errors_name_the_character():
    with pytest.raises(FilterError, match="at character 3 of the path"):
        parse_path("a..b")


# --- operators


def test_eq_and_neq_on_strings_numbers_booleans_null_and_objects():
    assert holds("data.currency", "eq", "EUR")
    assert not holds("data.currency", "eq", "eur")
    assert holds("data.amount", "eq", 120) and holds("data.amount", "eq", 120.0)
    assert holds("data.customer.vip", "eq", True)
    assert not holds("data.customer.vip", "eq", 1)
    assert not holds("data.items[1].qty", "eq", False)
    assert holds("data.items[0]", "eq", {"qty": 2, "sku": "A-1"})
    assert not holds("data.items[0]", "eq", {"sku": "A-1"})
    assert holds("data.customer.tags", "eq", ["b2b", "eu", 7])
    assert matches(
        parse_filters([{"path": "data.note", "operator": "eq", "value": None}]), EVENT, {}
    )
    assert holds("data.currency", "neq", "USD")
    assert not holds("data.currency", "neq", "EUR")


def test_a_number_and_a_numeric_string_compare_as_numbers_but_two_strings_as_strings():
    assert holds("data.amount", "eq", "120")
    assert holds("data.amount", "eq", "1.2e2")
    assert holds("data.amount_text", "eq", 120.5)
    assert not holds("data.amount_text", "eq", "120.5")  # two strings: compared as text
    assert holds("data.zip", "eq", "007") and not holds("data.zip", "eq", "7")
    assert holds("data.zip", "eq", 7)  # a real number on one side coerces the other
    assert not holds("data.amount", "eq", "120 EUR")
    assert holds("$headers.content-length", "eq", 512)


def test_gt_and_lt_on_numbers_and_numeric_strings():
    assert holds("data.amount", "gt", 100) and not holds("data.amount", "gt", 120)
    assert holds("data.amount", "lt", 121) and not holds("data.amount", "lt", 120)
    assert holds("data.amount_text", "gt", 120) and holds("data.amount_text", "lt", "121")
    assert holds("data.amount", "gt", "99.5")
    assert holds("$headers.content-length", "gt", 500)
    assert not holds("data.currency", "gt", 1)  # not a number: no match, no error
    assert not holds("data.customer.vip", "gt", 0)  # booleans are not numbers
    assert not holds("data.items", "lt", 10)


def test_gt_and_lt_on_iso_date_times_naive_being_utc():
    assert holds("data.paid_at", "gt", "2024-05-01T10:00:00Z")
    assert holds("data.paid_at", "lt", "2024-05-01T12:29:00+02:00") is False
    assert holds("data.paid_at", "lt", "2024-05-01T12:31:00+02:00")
    assert holds("data.paid_at", "gt", "2024-05-01")
    assert holds("data.paid_at", "lt", "2024-05-01T10:30:01")
    assert not holds("data.paid_at", "gt", 20240501)  # a date and a number: no match
    assert not holds("data.currency", "gt", "2024-01-01")


def test_in_matches_one_of_the_listed_values():
    assert holds("data.currency", "in", ["USD", "EUR"])
    assert not holds("data.currency", "in", ["USD", "GBP"])
    assert holds("data.amount", "in", ["100", "120"])
    assert not holds("data.customer.vip", "in", [1, "true"])


def test_contains_substring_element_and_key():
    assert holds("data.customer.email", "contains", "@example.")
    assert not holds("data.customer.email", "contains", "@other.")
    assert holds("data.customer.tags", "contains", "eu")
    assert holds("data.customer.tags", "contains", "7")  # element 7 equals "7"
    assert not holds("data.customer.tags", "contains", "us")
    assert holds("data.customer", "contains", "vip")
    assert not holds("data.customer", "contains", "Ada")
    assert holds("data.items", "contains", {"sku": "B-2", "qty": 0})
    assert holds("data.amount_text", "contains", 120)  # a number stands for its JSON text
    assert not holds("data.amount", "contains", "12")  # a number has no substrings
    assert holds("$headers.x-github-event", "contains", "us")


def test_exists_true_by_default_and_false():
    assert holds("data.note", "exists")  # a null value is present
    assert holds("data.items[1]", "exists", True)
    assert not holds("data.items[2]", "exists")
    assert holds("data.items[2]", "exists", False)
    assert not holds("data.amount", "exists", False)
    assert holds("$headers.x-empty", "exists") and holds("$headers.x-other", "exists", False)


def test_a_missing_path_fails_every_operator_except_exists_false_and_neq():
    expected = {"exists": False, "eq": False, "gt": False, "lt": False, "in": False}
    expected |= {"contains": False, "neq": True}
    for operator, outcome in expected.items():
        value = {"exists": None, "in": ["x"]}.get(operator, "x")
        if operator in ("gt", "lt"):
            value = 1
        assert holds("data.nowhere", operator, value) is outcome, operator
    assert holds("data.nowhere", "exists", False)


def test_a_non_json_body_is_routable_on_headers_only():
    filters = parse_filters(
        [
            {"path": "$headers.x-github-event", "operator": "eq", "value": "push"},
            {"path": "data.amount", "operator": "exists", "value": False},
        ]
    )
    assert matches(filters, None, HEADERS)
    assert not matches(filters, None, {"x-github-event": "issues"})
    assert not matches([Filter("type", "eq", "x")], None, HEADERS)
    assert matches([Filter("type", "neq", "x")], None, HEADERS)


def test_rows_are_anded_and_an_empty_list_matches():
    paid_eur = [
        {"path": "type", "operator": "eq", "value": "invoice.paid"},
        {"path": "data.currency", "operator": "eq", "value": "EUR"},
    ]
    assert matches(parse_filters(paid_eur), EVENT, HEADERS)
    paid_usd = [paid_eur[0], {"path": "data.currency", "operator": "eq", "value": "USD"}]
    assert not matches(parse_filters(paid_usd), EVENT, HEADERS)
    assert matches([], EVENT, HEADERS) and matches([], None, {})


def test_explain_reports_each_row_with_the_actual_value():
    rows = explain(
        parse_filters(
            [
                {"path": "data.amount", "operator": "gt", "value": 100},
                {"path": "data.missing", "operator": "eq", "value": 1},
                {"path": "$headers.X-GitHub-Event", "operator": "in", "value": ["issues"]},
            ]
        ),
        EVENT,
        HEADERS,
    )
    assert rows == [
        {"path": "data.amount", "operator": "gt", "value": 100}
        | {"found": True, "actual": 120, "passed": True},
        {"path": "data.missing", "operator": "eq", "value": 1}
        | {"found": False, "actual": None, "passed": False},
        {"path": "$headers.X-GitHub-Event", "operator": "in", "value": ["issues"]}
        | {"found": True, "actual": "push", "passed": False},
    ]


# --- validation


def test_parse_filters_returns_filters_and_defaults_exists_to_true():
    parsed = parse_filters(
        [
            {"path": "data.amount", "operator": "gt", "value": 100},
            {"path": "data.note", "operator": "exists"},
        ]
    )
    assert parsed == [Filter("data.amount", "gt", 100), Filter("data.note", "exists", True)]
    assert parse_filters([]) == []


@pytest.mark.parametrize(
    ("row", "field", "problem"),
    [
        ({"operator": "eq", "value": 1}, "path", "path is required"),
        ({"path": "", "operator": "eq", "value": 1}, "path", "path is required"),
        ({"path": 5, "operator": "eq", "value": 1}, "path", "path is required"),
        ({"path": "a[0", "operator": "eq", "value": 1}, "path", "unbalanced brackets"),
        ({"path": "a", "operator": "like", "value": 1}, "operator", "one of eq, neq, gt"),
        ({"path": "a", "operator": "EQ", "value": 1}, "operator", "one of"),
        ({"path": "a", "operator": ["eq"], "value": 1}, "operator", "one of"),
        ({"path": "a", "value": 1}, "operator", "one of"),
        ({"path": "a", "operator": "eq"}, "value", "eq needs a value"),
        ({"path": "a", "operator": "in", "value": "paid"}, "value", "in takes a list"),
        ({"path": "a", "operator": "in", "value": []}, "value", "in takes a list"),
        ({"path": "a", "operator": "in", "value": list(range(101))}, "value", "1 to 100"),
        ({"path": "a", "operator": "gt", "value": "soon"}, "value", "gt compares numbers"),
        ({"path": "a", "operator": "lt", "value": True}, "value", "lt compares numbers"),
        ({"path": "a", "operator": "gt", "value": [1]}, "value", "compares numbers"),
        ({"path": "a", "operator": "gt", "value": "2024-13-45"}, "value", "date-times"),
        ({"path": "a", "operator": "exists", "value": "yes"}, "value", "true (the path"),
        ({"path": "a", "operator": "exists", "value": 1}, "value", "true (the path"),
        ({"path": "a", "operator": "eq", "value": float("nan")}, "value", "must be JSON"),
        ({"path": "a", "operator": "eq", "value": {1: "x"}}, "value", "must be JSON"),
        ({"path": "a", "operator": "eq", "value": object()}, "value", "must be JSON"),
        ({"path": "a", "operator": "eq", "value": 1, "valeu": 2}, None, "unknown key 'valeu'"),
    ],
)
def test_parse_filters_names_the_row_and_field_at_fault(row, field, problem):
    ok = {"path": "type", "operator": "exists"}
    with pytest.raises(FilterError) as caught:
        parse_filters([ok, row])
    assert caught.value.row == 1
    assert caught.value.field == field
    assert problem in caught.value.message
    assert caught.value.message.startswith("row 2: ")


def test_parse_filters_accepts_numeric_strings_and_dates_for_gt_and_lt():
    assert parse_filters([{"path": "a", "operator": "gt", "value": "100"}])
    assert parse_filters([{"path": "a", "operator": "lt", "value": "2024-05-01T00:00:00+02:00"}])


def test_parse_filters_refuses_a_non_list_a_non_object_row_and_too_many_rows():
    with pytest.raises(FilterError, match="list of rows") as caught:
        parse_filters({"path": "a"})
    assert caught.value.row is None
    with pytest.raises(FilterError, match="row 1: a row is an object") as caught:
        parse_filters(["a"])
    assert caught.value.row == 0
    rows = [{"path": "a", "operator": "exists"}] * (MAX_ROWS + 1)
    with pytest.raises(FilterError, match="at most 20 filter rows"):
        parse_filters(rows)
    assert len(parse_filters(rows[:MAX_ROWS])) == MAX_ROWS


def test_extract_with_a_malformed_path_raises_filter_error():
    with pytest.raises(FilterError):
        extract(EVENT, "a..b")


# --- property: evaluation never raises


def json_documents(finite: bool):
    """Bodies may hold NaN and infinities (json.loads accepts them); filter values may not."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=not finite, allow_infinity=not finite)
        | st.text(max_size=20)
        | st.sampled_from(
            ["120", "1e308", "1e999", "-0", "2024-05-01T10:00:00+14:00", "9999-12-31"]
        )
    )
    keys = st.sampled_from(["a", "b", "0", "1", "a.b", "$headers"])
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4)
        ),
        max_leaves=30,
    )


json_values = json_documents(finite=True)
paths = st.sampled_from(
    ["a", "b", "a.b", "a[0]", "a.0.b", '["a.b"]', "0", "[1].a", "b[0][1]", "$headers.a", "a.a.a"]
)
filter_values = {
    "eq": json_values,
    "neq": json_values,
    "contains": json_values,
    "in": st.lists(json_values, min_size=1, max_size=4),
    "gt": st.sampled_from([0, -1.5, "120", 10**30, "2024-05-01", "2024-05-01T10:00:00-12:00"]),
    "lt": st.sampled_from([0, 2.5, "1e3", -(10**30), "0001-01-01", "9999-12-31T23:59:59+14:00"]),
    "exists": st.booleans(),
}


@st.composite
def valid_rows(draw):
    operator = draw(st.sampled_from(OPERATORS))
    return {"path": draw(paths), "operator": operator, "value": draw(filter_values[operator])}


@given(
    rows=st.lists(valid_rows(), max_size=5),
    body=json_documents(finite=False),
    headers=st.dictionaries(st.sampled_from(["A", "a", "b"]), st.text(max_size=10)),
)
@example(rows=[{"path": "a", "operator": "gt", "value": 0}], body={"a": float("nan")}, headers={})
@example(rows=[{"path": "a", "operator": "eq", "value": 1}], body={"a": "1" * 5000}, headers={})
@settings(max_examples=500, deadline=None)
def test_matches_and_explain_never_raise_for_any_json_body(rows, body, headers):
    filters = parse_filters(rows)
    outcome = matches(filters, body, headers)
    explained = explain(filters, body, headers)
    assert outcome == all(row["passed"] for row in explained)


def test_matches_never_raises_on_deeply_nested_bodies():
    deep: object = "x"
    for _ in range(5000):
        deep = {"a": [deep]}
    filters = parse_filters(
        [
            {"path": "a[0].a", "operator": op, "value": v}
            for op, v in [("eq", {"a": ["x"]}), ("contains", "a")]
        ]
    )
    assert matches(filters, deep, {}) in (True, False)
