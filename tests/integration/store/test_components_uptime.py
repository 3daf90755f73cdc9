"""Components follow the configuration but keep their status; uptime seconds accumulate per day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from releve.errors import StoreError
from releve.store import Component, ComponentKind, ComponentStatus, Store, Text

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)
OK = ComponentStatus.OPERATIONAL
MAJOR = ComponentStatus.MAJOR_OUTAGE
PARTIAL = ComponentStatus.PARTIAL_OUTAGE


def _component(component_id: str, *, name: str = "", position: int = 0, public: bool = True,
               description: Text | None = None, status: ComponentStatus = OK) -> Component:
    label = name or component_id
    return Component(id=component_id, kind=ComponentKind.PROCESS, name=Text(fr=f"{label} (fr)", en=label),
                     status=status, updated_at=T0, description=description, position=position, public=public)


def test_sync_adds_components_ordered_by_position_then_id(store: Store) -> None:
    store.sync_components([_component("process:b", position=1), _component("process:c", position=0),
                           _component("process:a", position=1, public=False, description=Text("d-fr", "d-en"))])
    listed = store.components()
    assert [c.id for c in listed] == ["process:c", "process:a", "process:b"]
    assert listed[1] == _component("process:a", position=1, public=False, description=Text("d-fr", "d-en"))
    assert listed[0].description is None
    assert listed[0].updated_at.tzinfo is UTC


def test_sync_renames_and_removes_but_keeps_the_stored_status(store: Store) -> None:
    store.sync_components([_component("process:a"), _component("process:b")])
    store.set_component_status("process:a", MAJOR, T0 + timedelta(minutes=1))
    store.sync_components([_component("process:a", name="Renamed", position=3, status=OK), _component("process:c")])
    by_id = {c.id: c for c in store.components()}
    assert set(by_id) == {"process:a", "process:c"}
    assert by_id["process:a"].name.en == "Renamed"
    assert by_id["process:a"].position == 3
    assert by_id["process:a"].status is MAJOR
    assert by_id["process:a"].updated_at == T0 + timedelta(minutes=1)
    # Listed again later: back, with the status it had.
    store.set_component_status("process:b", PARTIAL, T0 + timedelta(minutes=2))
    store.sync_components([_component("process:b")])
    assert [(c.id, c.status) for c in store.components()] == [("process:b", PARTIAL)]


def test_sync_with_nothing_removes_everything(store: Store) -> None:
    store.sync_components([_component("process:a")])
    store.sync_components([])
    assert store.components() == []


def test_set_component_status_moves_updated_at_only_on_a_change(store: Store) -> None:
    store.sync_components([_component("process:a")])
    store.set_component_status("process:a", MAJOR, T0 + timedelta(minutes=1))
    store.set_component_status("process:a", MAJOR, T0 + timedelta(minutes=5))
    [component] = store.components()
    assert (component.status, component.updated_at) == (MAJOR, T0 + timedelta(minutes=1))


def test_set_status_of_an_unknown_component_raises(store: Store) -> None:
    with pytest.raises(StoreError, match="process:nope"):
        store.set_component_status("process:nope", MAJOR, T0)


def test_uptime_accumulates_within_a_batch_and_across_calls(store: Store) -> None:
    day = date(2024, 5, 1)
    store.add_uptime([("process:a", day, OK, 100.0), ("process:a", day, OK, 50.0), ("process:a", day, MAJOR, 10.0)])
    store.add_uptime([("process:a", day, OK, 30.0)])
    [uptime] = store.uptime(["process:a"], since=day)["process:a"]
    assert uptime.day == day
    assert uptime.seconds == {OK: 180.0, MAJOR: 10.0}
    assert uptime.observed == 190.0


def test_add_uptime_with_no_samples_is_a_no_op(store: Store) -> None:
    store.add_uptime([])
    assert store.uptime(["process:a"], since=date(2024, 1, 1)) == {"process:a": []}


def test_uptime_since_filters_days_and_lists_them_oldest_first(store: Store) -> None:
    days = [date(2024, 4, 29), date(2024, 4, 30), date(2024, 5, 1)]
    store.add_uptime([("process:a", d, OK, 60.0) for d in reversed(days)] + [("process:b", days[2], PARTIAL, 5.0)])
    found = store.uptime(["process:a", "process:b", "process:none"], since=days[1])
    assert [u.day for u in found["process:a"]] == days[1:]
    assert [u.seconds for u in found["process:b"]] == [{PARTIAL: 5.0}]
    assert found["process:none"] == []
    assert store.uptime([], since=days[0]) == {}
