"""History for cost reports: traffic counts add up per (route, minute); component status changes are recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from releve.store import Component, ComponentKind, ComponentStatus, StatusChange, Store, Text, TrafficMinute

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)
MIN = timedelta(minutes=1)
OK = ComponentStatus.OPERATIONAL
MAJOR = ComponentStatus.MAJOR_OUTAGE
PARTIAL = ComponentStatus.PARTIAL_OUTAGE


def _component(component_id: str, *, status: ComponentStatus = OK, updated_at: datetime = T0) -> Component:
    return Component(id=component_id, kind=ComponentKind.ROUTE, name=Text(component_id, component_id), status=status,
                     updated_at=updated_at)


def _change(component_id: str, at: datetime, status: ComponentStatus) -> StatusChange:
    return StatusChange(component_id=component_id, at=at, status=status)


# --- traffic ------------------------------------------------------------------------------------


def test_traffic_accumulates_within_a_batch_and_across_calls(store: Store) -> None:
    store.add_traffic([TrafficMinute("chat", T0, served=10, fallback=2, deferred=4),
                       TrafficMinute("chat", T0, served=5, degraded=1, failed=3, deferred=2)])
    store.add_traffic([TrafficMinute("chat", T0, served=1, fallback=1, degraded=1, deferred=1, failed=1)])
    [row] = store.traffic(["chat"], T0, T0 + MIN)
    assert row == TrafficMinute("chat", T0, served=16, fallback=3, degraded=2, deferred=7, failed=4)
    assert row.total == 32
    assert row.minute.tzinfo is UTC


def test_deferred_requests_are_kept_apart_from_every_other_outcome(store: Store) -> None:
    store.add_traffic([TrafficMinute("chat", T0, deferred=3), TrafficMinute("chat", T0 + MIN, served=2)])
    store.add_traffic([TrafficMinute("chat", T0 + MIN, deferred=5)])
    first, second = store.traffic(["chat"], T0, T0 + 2 * MIN)
    assert first == TrafficMinute("chat", T0, deferred=3) and first.total == 3
    assert second == TrafficMinute("chat", T0 + MIN, served=2, deferred=5) and second.total == 7


def test_the_same_minute_in_another_zone_is_the_same_row(store: Store) -> None:
    paris = timezone(timedelta(hours=2))
    store.add_traffic([TrafficMinute("chat", T0.astimezone(paris), served=1), TrafficMinute("chat", T0, served=2)])
    assert store.traffic(["chat"], T0, T0 + MIN) == [TrafficMinute("chat", T0, served=3)]


def test_traffic_filters_routes_and_the_half_open_range_ordered_by_minute_then_route(store: Store) -> None:
    store.add_traffic([TrafficMinute(route, T0 + n * MIN, served=n + 1)
                       for n in reversed(range(4)) for route in ("search", "chat", "other")])
    found = store.traffic(["search", "chat", "chat"], T0 + MIN, T0 + 3 * MIN)
    assert [(t.minute, t.route, t.served) for t in found] == [
        (T0 + MIN, "chat", 2), (T0 + MIN, "search", 2), (T0 + 2 * MIN, "chat", 3), (T0 + 2 * MIN, "search", 3)]
    assert store.traffic(["missing"], T0, T0 + 10 * MIN) == []
    assert store.traffic([], T0, T0 + 10 * MIN) == []
    assert store.traffic(["chat"], T0 + MIN, T0 + MIN) == []


def test_add_traffic_with_no_samples_is_a_no_op(store: Store) -> None:
    store.add_traffic([])
    assert store.traffic(["chat"], T0, T0 + MIN) == []


@pytest.mark.parametrize("minute", [T0 + timedelta(seconds=30), T0 + timedelta(microseconds=1),
                                    datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone(timedelta(seconds=30)))],
                         ids=["seconds", "microseconds", "offset-with-seconds"])
def test_a_minute_not_at_its_start_is_refused_and_nothing_is_written(store: Store, minute: datetime) -> None:
    with pytest.raises(ValueError, match="start of a minute"):
        store.add_traffic([TrafficMinute("chat", T0, served=1), TrafficMinute("chat", minute, served=1)])
    assert store.traffic(["chat"], T0 - MIN, T0 + MIN) == []


def test_naive_times_are_refused(store: Store) -> None:
    naive = datetime(2024, 5, 1, 12)
    with pytest.raises(ValueError, match="naive"):
        store.add_traffic([TrafficMinute("chat", naive, served=1)])
    with pytest.raises(ValueError, match="naive"):
        store.traffic(["chat"], naive, T0)
    with pytest.raises(ValueError, match="naive"):
        store.status_history(["route:a"], T0, naive)


# --- status changes -----------------------------------------------------------------------------


def test_history_starts_with_the_last_change_at_or_before_since(store: Store) -> None:
    store.sync_components([_component("route:a"), _component("route:b", status=PARTIAL, updated_at=T0 + MIN)])
    store.set_component_status("route:a", MAJOR, T0 + 2 * MIN)
    store.set_component_status("route:a", OK, T0 + 5 * MIN)
    store.set_component_status("route:a", PARTIAL, T0 + 10 * MIN)
    store.set_component_status("route:b", OK, T0 + 20 * MIN)
    found = store.status_history(["route:a", "route:b", "route:unknown"], T0 + 3 * MIN, T0 + 10 * MIN)
    assert found == {
        "route:a": [_change("route:a", T0 + 2 * MIN, MAJOR), _change("route:a", T0 + 5 * MIN, OK)],
        "route:b": [_change("route:b", T0 + MIN, PARTIAL)],
        "route:unknown": [],
    }
    # A change exactly at `since` is the one that gives the status then, once.
    assert store.status_history(["route:a"], T0 + 5 * MIN, T0 + 11 * MIN)["route:a"] == [
        _change("route:a", T0 + 5 * MIN, OK), _change("route:a", T0 + 10 * MIN, PARTIAL)]
    # Before the first change: nothing known at `since`, only what follows.
    assert store.status_history(["route:a"], T0 - MIN, T0 + 3 * MIN)["route:a"] == [
        _change("route:a", T0, OK), _change("route:a", T0 + 2 * MIN, MAJOR)]
    assert store.status_history([], T0, T0 + MIN) == {}
    assert found["route:a"][0].at.tzinfo is UTC


def test_changes_at_the_same_instant_keep_their_order(store: Store) -> None:
    store.sync_components([_component("route:a")])
    store.set_component_status("route:a", MAJOR, T0 + MIN)
    store.set_component_status("route:a", PARTIAL, T0 + MIN)
    store.set_component_status("route:a", MAJOR, T0 + MIN)
    assert [c.status for c in store.status_history(["route:a"], T0, T0 + 2 * MIN)["route:a"]] == [
        OK, MAJOR, PARTIAL, MAJOR]
    # At `since`, the last of them is the status.
    assert store.status_history(["route:a"], T0 + MIN, T0 + 2 * MIN)["route:a"] == [
        _change("route:a", T0 + MIN, MAJOR)]


def test_set_component_status_records_only_changes(store: Store) -> None:
    store.sync_components([_component("route:a")])
    store.set_component_status("route:a", OK, T0 + MIN)
    store.set_component_status("route:a", MAJOR, T0 + 2 * MIN)
    store.set_component_status("route:a", MAJOR, T0 + 3 * MIN)
    assert store.status_history(["route:a"], T0, T0 + 10 * MIN)["route:a"] == [
        _change("route:a", T0, OK), _change("route:a", T0 + 2 * MIN, MAJOR)]


def test_sync_starts_the_history_of_new_components_only(store: Store) -> None:
    store.sync_components([_component("route:a", status=PARTIAL)])
    store.set_component_status("route:a", MAJOR, T0 + MIN)
    later = T0 + 5 * MIN
    store.sync_components([_component("route:a", updated_at=later), _component("route:b", updated_at=later)])
    store.sync_components([_component("route:b", status=MAJOR, updated_at=later + MIN)])  # a unlisted
    store.sync_components([_component("route:a", updated_at=later + 2 * MIN)])  # listed again
    found = store.status_history(["route:a", "route:b"], T0 - MIN, later + 10 * MIN)
    assert found == {"route:a": [_change("route:a", T0, PARTIAL), _change("route:a", T0 + MIN, MAJOR)],
                     "route:b": [_change("route:b", later, OK)]}
    # The definitions were still updated for existing components.
    assert [(c.id, c.status) for c in store.components()] == [("route:a", MAJOR)]
