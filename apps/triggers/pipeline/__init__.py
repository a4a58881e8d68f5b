"""The event pipeline (DESIGN.md §5): accepted events go from the outbox to a Redis Stream and
from there to one run per matching route, exactly once per (event, route).

    receive.event_accept ─ Event + Outbox (one transaction) ─┐
    publisher.outbox_publish ─ XADD, then mark published ────┤ the `events` process
    consumer.Consumer ─ XREADGROUP / XAUTOCLAIM → routing.event_route → XACK
    routing ─ match filters → Delivery per route → delivery.start_run (Execution, same txn)
    delivery ─ retries with the trigger's backoff → dead letters (deadletters.py)
    sequential ─ one run at a time per sequential trigger, in arrival order

Modules: stream (the Redis side), publisher, consumer, routing, delivery, sequential,
deadletters (replay), housekeeping, process (the threads of `manage.py events`), faults (crash
points for the test suite)."""

from apps.triggers.pipeline.deadletters import dead_letter_replay, dead_letters_replay_matching

__all__ = ["dead_letter_replay", "dead_letters_replay_matching"]
