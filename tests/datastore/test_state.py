from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from apps.datastore.models import StateEntry
from apps.datastore.state import (
    MAX_TTL_SECONDS,
    StateError,
    StateNotANumber,
    StateScope,
    state_clear_invocation,
    state_compare_and_set,
    state_delete,
    state_get,
    state_incr,
    state_purge_expired,
    state_set,
    state_set_if_absent,
)
from apps.datastore.tasks import purge_expired_state

WORKFLOW = str(uuid.uuid4())
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def run(space):
    """The scope of one run of WORKFLOW in the Space's own scope."""
    return StateScope(space.id, None, WORKFLOW, "exec-1")


def another_run(scope: StateScope, invocation_id: str) -> StateScope:
    return StateScope(scope.space_id, scope.customer_id, scope.workflow_key, invocation_id)


JSON_VALUES = [
    pytest.param("hello ✓", id="string"),
    pytest.param("", id="empty-string"),
    pytest.param(42, id="int"),
    pytest.param(-3.25, id="float"),
    pytest.param(2**60, id="big-int"),
    pytest.param(True, id="true"),
    pytest.param(False, id="false"),
    pytest.param([1, "two", None, {"three": 3}], id="array"),
    pytest.param({"nested": {"list": [1, 2], "flag": False}, "n": None}, id="object"),
    pytest.param({}, id="empty-object"),
]


@pytest.mark.parametrize("value", JSON_VALUES)
def test_set_then_get_returns_the_same_json_value(run, value):
    state_set(run, "k", value)

    assert state_get(run, "k") == value


def test_null_is_stored_and_reads_back_as_none(run):
    state_set(run, "k", None)

    assert state_get(run, "k") is None
    assert StateEntry.objects.filter(key="k").count() == 1


def test_get_of_a_missing_key_is_none(run):
    assert state_get(run, "missing") is None


def test_set_replaces_the_value_in_one_row(run):
    state_set(run, "k", 1)
    state_set(run, "k", {"v": 2})

    assert state_get(run, "k") == {"v": 2}
    assert StateEntry.objects.filter(key="k").count() == 1


def test_delete_removes_the_key_and_reports_whether_it_existed(run):
    state_set(run, "k", "v")

    assert state_delete(run, "k") is True
    assert state_get(run, "k") is None
    assert state_delete(run, "k") is False


def test_org_scope_is_shared_by_runs_of_the_same_workflow(run):
    state_set(run, "counter", 1, scope="ORG")

    assert state_get(another_run(run, "exec-2"), "counter", scope="ORG") == 1


def test_invocation_scope_is_private_to_its_run(run):
    state_set(run, "step", "a", scope="INVOCATION")

    assert state_get(run, "step", scope="INVOCATION") == "a"
    assert state_get(another_run(run, "exec-2"), "step", scope="INVOCATION") is None


def test_org_and_invocation_scopes_do_not_see_each_other(run):
    state_set(run, "k", "org", scope="ORG")
    state_set(run, "k", "run", scope="INVOCATION")

    assert state_get(run, "k", scope="ORG") == "org"
    assert state_get(run, "k", scope="INVOCATION") == "run"


def test_scope_is_case_insensitive(run):
    state_set(run, "k", "v", scope="invocation")

    assert state_get(run, "k", scope="Invocation") == "v"
    assert state_get(run, "k", scope="INVOCATION") == "v"
    state_set(run, "o", 1, scope="org")
    assert state_get(run, "o", scope="ORG") == 1
    assert state_get(run, "o", scope=None) == 1


def test_other_workflows_do_not_see_the_state(run):
    state_set(run, "k", "v")
    other = StateScope(run.space_id, None, str(uuid.uuid4()), "exec-1")
    ad_hoc = StateScope(run.space_id, None, "", "exec-1")

    assert state_get(other, "k") is None
    assert state_get(ad_hoc, "k") is None


def test_other_spaces_do_not_see_the_state(run):
    from apps.spaces.models import Space

    other_space = Space.objects.create(name="Globex", slug="globex")
    state_set(run, "k", "v")

    assert state_get(StateScope(other_space.id, None, WORKFLOW, "exec-1"), "k") is None


def test_customers_and_the_space_do_not_see_each_others_state(space, customer, run):
    from apps.spaces.models import Customer

    other_customer = Customer.objects.create(space=space, name="Hooli", external_id="hooli")
    for_customer = StateScope(space.id, customer.id, WORKFLOW, "exec-1")
    for_other = StateScope(space.id, other_customer.id, WORKFLOW, "exec-1")
    state_set(run, "k", "space")
    state_set(for_customer, "k", "customer")

    assert state_get(run, "k") == "space"
    assert state_get(for_customer, "k") == "customer"
    assert state_get(for_other, "k") is None


def test_expired_keys_are_invisible_at_once_and_purged_later(run, time_machine):
    time_machine.move_to(START, tick=False)
    state_set(run, "short", "v", ttl=60)
    state_set(run, "forever", "v")

    time_machine.move_to(START + timedelta(seconds=59), tick=False)
    assert state_get(run, "short") == "v"

    time_machine.move_to(START + timedelta(seconds=60), tick=False)
    assert state_get(run, "short") is None
    assert StateEntry.objects.filter(key="short").exists()

    assert state_purge_expired() == 1
    assert not StateEntry.objects.filter(key="short").exists()
    assert state_get(run, "forever") == "v"


def test_setting_again_renews_or_removes_the_ttl(run, time_machine):
    time_machine.move_to(START, tick=False)
    state_set(run, "k", 1, ttl=10)
    time_machine.move_to(START + timedelta(seconds=5), tick=False)
    state_set(run, "k", 2)

    time_machine.move_to(START + timedelta(days=400), tick=False)
    assert state_get(run, "k") == 2


def test_a_whole_float_ttl_from_javascript_is_accepted(run, time_machine):
    time_machine.move_to(START, tick=False)
    state_set(run, "k", 1, ttl=30.0)

    entry = StateEntry.objects.get(key="k")
    assert entry.expires_at == START + timedelta(seconds=30)


def test_the_purge_task_deletes_expired_entries(run, time_machine):
    time_machine.move_to(START, tick=False)
    state_set(run, "a", 1, ttl=1)
    state_set(run, "b", 1, ttl=1, scope="INVOCATION")
    state_set(run, "c", 1, ttl=3600)
    time_machine.move_to(START + timedelta(seconds=2), tick=False)

    result = purge_expired_state.apply()

    assert result.successful()
    assert result.result == 2
    assert sorted(StateEntry.objects.values_list("key", flat=True)) == ["c"]


def test_purge_works_in_batches(run, time_machine):
    time_machine.move_to(START, tick=False)
    for index in range(7):
        state_set(run, f"k{index}", index, ttl=1)
    time_machine.move_to(START + timedelta(seconds=5), tick=False)

    assert state_purge_expired(batch_size=3) == 7
    assert not StateEntry.objects.exists()


def test_clearing_an_invocation_removes_only_that_runs_entries(run):
    second = another_run(run, "exec-2")
    state_set(run, "a", 1, scope="INVOCATION")
    state_set(run, "b", 2, scope="INVOCATION")
    state_set(second, "a", 3, scope="INVOCATION")
    state_set(run, "shared", 4, scope="ORG")

    assert state_clear_invocation(run.space_id, "exec-1") == 2

    assert state_get(run, "a", scope="INVOCATION") is None
    assert state_get(second, "a", scope="INVOCATION") == 3
    assert state_get(run, "shared") == 4


def test_invocation_scope_needs_a_run(space):
    no_run = StateScope(space.id, None, WORKFLOW, "")

    with pytest.raises(StateError, match="INVOCATION scope needs a running execution"):
        state_set(no_run, "k", 1, scope="INVOCATION")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "State key must not be empty."),
        ("x" * 257, "State key is 257 characters long; the limit is 256."),
        (12, "State key must be a string, not 12."),
        (None, "State key must be a string, not NoneType."),
        ("a\x00b", "State key must not contain the NUL character."),
    ],
)
def test_bad_keys_are_refused(run, key, message):
    with pytest.raises(StateError) as caught:
        state_set(run, key, 1)
    assert caught.value.message == message


def test_a_key_of_256_characters_is_accepted(run):
    state_set(run, "k" * 256, 1)

    assert state_get(run, "k" * 256) == 1


@pytest.mark.parametrize("scope", ["GLOBAL", "", "org ", 1])
def test_unknown_scopes_are_refused(run, scope):
    with pytest.raises(StateError, match='Scope must be "ORG" or "INVOCATION" \\(any case\\)'):
        state_set(run, "k", 1, scope=scope)


@pytest.mark.parametrize("ttl", [0, -5, 1.5, True, "60", MAX_TTL_SECONDS + 1])
def test_bad_ttls_are_refused(run, ttl):
    with pytest.raises(
        StateError, match="ttl must be a whole number of seconds from 1 to 31536000"
    ):
        state_set(run, "k", 1, ttl=ttl)


def test_a_ttl_of_one_year_is_accepted(run):
    state_set(run, "k", 1, ttl=MAX_TTL_SECONDS)

    assert state_get(run, "k") == 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {1, 2},
            "State value must be JSON-serialisable: Object of type set is not JSON serializable.",
        ),
        (
            float("nan"),
            "State value must be JSON-serialisable: Out of range float values are not JSON "
            "compliant",
        ),
        ({"s": "a\x00b"}, "State values must not contain the NUL character (\\u0000) in strings."),
    ],
)
def test_values_that_are_not_plain_json_are_refused(run, value, message):
    with pytest.raises(StateError) as caught:
        state_set(run, "k", value)
    assert caught.value.message.startswith(message)


def test_a_backslash_u0000_text_is_not_mistaken_for_nul(run):
    state_set(run, "k", "literally \\u0000")

    assert state_get(run, "k") == "literally \\u0000"


def test_values_over_256_kb_are_refused_and_256_kb_is_accepted(run):
    # Two bytes of JSON quotes around the string.
    state_set(run, "k", "x" * (256 * 1024 - 2))
    with pytest.raises(StateError) as caught:
        state_set(run, "k", "x" * (256 * 1024 - 1))
    assert caught.value.message == (
        "State value is 262145 bytes once serialised as JSON; the limit is 262144 bytes (256 KB)."
    )


def test_value_size_counts_utf8_bytes(run):
    with pytest.raises(StateError, match="the limit is 262144 bytes"):
        state_set(run, "k", "é" * (128 * 1024))


def test_validation_happens_before_any_write(run):
    with pytest.raises(StateError):
        state_set(run, "k", {1, 2})

    assert not StateEntry.objects.exists()


def test_set_is_a_single_statement(run, django_assert_num_queries):
    state_set(run, "warm", 0)

    with django_assert_num_queries(1):
        state_set(run, "k", {"v": 1}, ttl=60)


# --- Atomic operations: incr, set_if_absent, compare_and_set ----------------------------------


def test_incr_counts_a_missing_key_from_zero_and_returns_the_new_value(run):
    assert state_incr(run, "n") == 1
    assert state_incr(run, "n") == 2
    assert state_incr(run, "n", 10) == 12
    assert state_incr(run, "n", -2.5) == 9.5
    assert state_get(run, "n") == 9.5
    assert StateEntry.objects.filter(key="n").count() == 1


def test_incr_adds_to_a_number_stored_with_set(run):
    state_set(run, "n", 41)

    assert state_incr(run, "n") == 42


def test_incr_respects_scopes(run):
    state_incr(run, "n", 5)
    assert state_incr(run, "n", scope="invocation") == 1
    assert state_incr(another_run(run, "exec-2"), "n", scope="INVOCATION") == 1
    assert state_get(run, "n") == 5


@pytest.mark.parametrize(
    "value, kind",
    [
        pytest.param("7", "a string", id="string"),
        pytest.param(True, "a boolean", id="bool"),
        pytest.param(None, "null", id="null"),
        pytest.param([1], "an array", id="array"),
        pytest.param({"n": 1}, "an object", id="object"),
    ],
)
def test_incr_of_a_non_number_is_a_clear_error_and_changes_nothing(run, value, kind):
    state_set(run, "k", value)

    with pytest.raises(StateNotANumber) as caught:
        state_incr(run, "k")

    assert caught.value.message == (
        f'State key "k" holds {kind}, not a number: incr can only add to a number '
        "(or to a missing key)."
    )
    assert state_get(run, "k") == value


@pytest.mark.parametrize("by", [True, "1", None, float("nan"), float("inf")])
def test_incr_refuses_an_amount_that_is_not_a_finite_number(run, by):
    with pytest.raises(StateError, match="by must be a finite number"):
        state_incr(run, "n", by)

    assert not StateEntry.objects.exists()


def test_incr_refuses_to_overflow_a_double(run):
    state_set(run, "n", 1.5e308)

    with pytest.raises(StateError, match="largest number JSON can hold"):
        state_incr(run, "n", 1e308)

    assert float(state_get(run, "n")) == 1.5e308  # jsonb may answer it as an exact integer


def test_incr_ttl_is_a_fixed_window_from_the_first_increment(run, time_machine):
    time_machine.move_to(START, tick=False)
    assert state_incr(run, "hits", ttl=60) == 1
    time_machine.move_to(START + timedelta(seconds=50), tick=False)
    assert state_incr(run, "hits", ttl=60) == 2  # the window is not pushed back

    time_machine.move_to(START + timedelta(seconds=60), tick=False)
    assert state_get(run, "hits") is None
    assert state_incr(run, "hits", ttl=60) == 1  # an expired counter starts again from 0
    entry = StateEntry.objects.get(key="hits")
    assert entry.expires_at == START + timedelta(seconds=120)


def test_set_if_absent_writes_only_the_first_time(run):
    assert state_set_if_absent(run, "seen", {"at": 1}) is True
    assert state_set_if_absent(run, "seen", {"at": 2}) is False

    assert state_get(run, "seen") == {"at": 1}


def test_set_if_absent_counts_a_stored_null_as_present(run):
    state_set(run, "k", None)

    assert state_set_if_absent(run, "k", 1) is False


def test_set_if_absent_treats_an_expired_key_as_absent(run, time_machine):
    time_machine.move_to(START, tick=False)
    assert state_set_if_absent(run, "lock", "a", ttl=30) is True
    time_machine.move_to(START + timedelta(seconds=29), tick=False)
    assert state_set_if_absent(run, "lock", "b", ttl=30) is False

    time_machine.move_to(START + timedelta(seconds=30), tick=False)
    assert state_set_if_absent(run, "lock", "c") is True
    assert state_get(run, "lock") == "c"
    assert StateEntry.objects.get(key="lock").expires_at is None


def test_set_if_absent_is_per_scope(run):
    state_set(run, "k", "org")

    assert state_set_if_absent(run, "k", "run", scope="INVOCATION") is True


def test_set_if_absent_is_a_single_statement(run, django_assert_num_queries):
    state_set(run, "warm", 0)

    with django_assert_num_queries(1):
        assert state_set_if_absent(run, "k", {"v": 1}, ttl=60) is True


def test_compare_and_set_writes_only_when_the_value_matches(run):
    state_set(run, "cursor", {"page": 1})

    assert state_compare_and_set(run, "cursor", {"page": 2}, {"page": 3}) is False
    assert state_get(run, "cursor") == {"page": 1}
    assert state_compare_and_set(run, "cursor", {"page": 1}, {"page": 2}) is True
    assert state_get(run, "cursor") == {"page": 2}


@pytest.mark.parametrize(
    "stored, expected",
    [
        pytest.param({"a": 1, "b": [1, {"c": None}]}, {"b": [1, {"c": None}], "a": 1}, id="order"),
        pytest.param(1, 1.0, id="int-float"),
        pytest.param(1e300, 1e300, id="huge"),
        pytest.param([0.1, -0.0], [0.1, 0], id="negative-zero"),
        pytest.param("✓", "✓", id="unicode"),
    ],
)
def test_compare_and_set_compares_json_values_deeply(run, stored, expected):
    state_set(run, "k", stored)

    assert state_compare_and_set(run, "k", expected, "next") is True


@pytest.mark.parametrize(
    "stored, expected",
    [
        pytest.param(True, 1, id="true-is-not-1"),
        pytest.param(0, False, id="0-is-not-false"),
        pytest.param({"a": 1}, {"a": 1, "b": None}, id="extra-member"),
        pytest.param([1, 2], [2, 1], id="array-order"),
        pytest.param("1", 1, id="string-number"),
        pytest.param(None, {}, id="null-object"),
    ],
)
def test_compare_and_set_does_not_confuse_json_types(run, stored, expected):
    state_set(run, "k", stored)

    assert state_compare_and_set(run, "k", expected, "next") is False
    assert state_get(run, "k") == stored


def test_compare_and_set_with_null_expected_matches_a_missing_or_expired_key(run, time_machine):
    time_machine.move_to(START, tick=False)
    assert state_compare_and_set(run, "k", None, "first", ttl=10) is True
    assert state_compare_and_set(run, "k", None, "second") is False

    time_machine.move_to(START + timedelta(seconds=10), tick=False)
    assert state_compare_and_set(run, "k", "first", "stale") is False  # expired = absent
    assert state_compare_and_set(run, "k", None, "again") is True
    assert state_get(run, "k") == "again"
    assert StateEntry.objects.get(key="k").expires_at is None  # ttl as in set: none given


def test_compare_and_set_sets_the_ttl_like_set(run, time_machine):
    time_machine.move_to(START, tick=False)
    state_set(run, "k", 1)

    assert state_compare_and_set(run, "k", 1, 2, ttl=5) is True
    assert StateEntry.objects.get(key="k").expires_at == START + timedelta(seconds=5)


def test_conditional_writes_validate_like_set(run):
    with pytest.raises(StateError, match="JSON-serialisable"):
        state_compare_and_set(run, "k", {1}, 1)
    with pytest.raises(StateError, match="JSON-serialisable"):
        state_set_if_absent(run, "k", object())
    with pytest.raises(StateError, match="ttl must be"):
        state_incr(run, "k", ttl=0)
    with pytest.raises(StateError, match="State key must not be empty"):
        state_incr(run, "")

    assert not StateEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_conditional_writes_never_lose_an_update(space):
    """Real threads, each with its own database connection, racing on one key."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    scope = StateScope(space.id, None, WORKFLOW, "exec-1")

    def in_thread(fn):
        def call(*args):
            try:
                return fn(*args)
            finally:
                connection.close()

        return call

    with ThreadPoolExecutor(max_workers=8) as pool:
        counted = list(pool.map(in_thread(lambda _: state_incr(scope, "n")), range(100)))
        first = list(
            pool.map(in_thread(lambda i: state_set_if_absent(scope, "once", i)), range(20))
        )
        swapped = list(
            pool.map(in_thread(lambda i: state_compare_and_set(scope, "v", None, i)), range(20))
        )

    assert sorted(counted) == list(range(1, 101))
    assert state_get(scope, "n") == 100
    assert first.count(True) == 1
    assert state_get(scope, "once") == first.index(True)
    assert swapped.count(True) == 1
    assert state_get(scope, "v") == swapped.index(True)
