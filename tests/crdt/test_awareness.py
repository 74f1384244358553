"""The awareness table: y-protocols clock rules, ownership, removal on close, bounds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crdt import (
    AwarenessEntry,
    AwarenessLimitExceeded,
    AwarenessMessage,
    AwarenessTable,
    InvalidAwarenessState,
    decode_message,
    encode_awareness,
)

E = AwarenessEntry


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def entries_of(frame: bytes | None) -> tuple[AwarenessEntry, ...]:
    assert frame is not None
    msg = decode_message(frame)
    assert isinstance(msg, AwarenessMessage)
    return msg.entries


def test_new_client_is_accepted_and_owned() -> None:
    table: AwarenessTable[str] = AwarenessTable()
    assert table.apply("a", [E(10, 1, '{"u":1}')]) == (E(10, 1, '{"u":1}'),)
    assert table.states == {10: '{"u":1}'}
    assert table.clients_of("a") == {10}
    assert len(table) == 1
    assert table.clock_of(10) == 1
    assert table.clock_of(11) is None


def test_first_entry_at_clock_0_is_ignored_like_y_protocols() -> None:
    table: AwarenessTable[str] = AwarenessTable()
    assert table.apply("a", [E(10, 0, "{}")]) == ()
    assert table.states == {}
    assert table.snapshot() is None


def test_clock_rules() -> None:
    table: AwarenessTable[str] = AwarenessTable()
    table.apply("a", [E(10, 5, '"five"')])
    assert table.apply("a", [E(10, 4, '"older"')]) == ()
    assert table.apply("a", [E(10, 5, '"same clock"')]) == ()
    assert table.states == {10: '"five"'}
    # A renewal with the same state is accepted and re-broadcast: it is the clients' keepalive.
    assert table.apply("a", [E(10, 6, '"five"')]) == (E(10, 6, '"five"'),)
    # Equal clock + null removes a present client.
    assert table.apply("a", [E(10, 6, "null")]) == (E(10, 6, "null"),)
    assert table.states == {}
    assert table.clients_of("a") == frozenset()
    # ... but not twice, and not at an older clock.
    assert table.apply("a", [E(10, 6, "null")]) == ()
    assert table.apply("a", [E(10, 5, '"stale"')]) == ()
    assert table.apply("a", [E(10, 6, '"stale"')]) == ()
    # A newer clock brings it back.
    assert table.apply("a", [E(10, 7, '"back"')]) == (E(10, 7, '"back"'),)
    # A newer null removes.
    assert table.apply("a", [E(10, 9, "null")]) == (E(10, 9, "null"),)
    assert table.clock_of(10) == 9


def test_removal_of_a_stranger_is_remembered_but_not_broadcast() -> None:
    table: AwarenessTable[str] = AwarenessTable()
    assert table.apply("a", [E(10, 3, "null")]) == ()
    assert table.clock_of(10) == 3
    assert table.apply("b", [E(10, 2, '"late"')]) == ()
    assert table.states == {}


def test_null_with_whitespace_is_a_removal_and_is_canonicalised() -> None:
    table: AwarenessTable[str] = AwarenessTable()
    table.apply("a", [E(10, 1, "{}")])
    assert table.apply("a", [E(10, 2, " null ")]) == (E(10, 2, "null"),)
    assert table.states == {}


def test_duplicates_in_one_batch_apply_in_order() -> None:
    table: AwarenessTable[str] = AwarenessTable()
    accepted = table.apply("a", [E(10, 1, '"a"'), E(10, 3, '"c"'), E(10, 2, '"b"'), E(10, 3, "null")])
    assert accepted == (E(10, 1, '"a"'), E(10, 3, '"c"'), E(10, 3, "null"))
    assert table.states == {}
    assert table.clock_of(10) == 3


def test_remove_connection_announces_nulls_at_the_same_clock() -> None:
    table: AwarenessTable[str] = AwarenessTable()
    table.apply("a", [E(10, 4, '"x"'), E(11, 1, '"y"')])
    table.apply("b", [E(20, 2, '"z"')])
    frame = table.remove_connection("a")
    assert entries_of(frame) == (E(10, 4, "null"), E(11, 1, "null"))
    assert table.states == {20: '"z"'}
    assert table.clients_of("a") == frozenset()
    assert table.remove_connection("a") is None
    assert table.remove_connection("never-seen") is None
    # The reconnecting client's re-announcement at its unchanged clock is ignored (clients ignore it
    # too), and its next renewal is accepted at once.
    assert table.apply("a2", [E(10, 4, '"x"')]) == ()
    assert table.apply("a2", [E(10, 5, '"x"')]) == (E(10, 5, '"x"'),)
    assert table.clients_of("a2") == {10}


def test_ownership_moves_to_the_connection_that_sent_the_newer_state() -> None:
    table: AwarenessTable[str] = AwarenessTable()
    table.apply("old", [E(10, 4, '"x"')])
    table.apply("new", [E(10, 5, '"x"')])
    assert table.clients_of("old") == frozenset()
    assert table.clients_of("new") == {10}
    # Closing the stale connection must not make the live client disappear.
    assert table.remove_connection("old") is None
    assert table.states == {10: '"x"'}


def test_echoes_of_other_clients_change_nothing() -> None:
    # y-websocket clients echo every awareness change they receive, with the same clocks.
    table: AwarenessTable[str] = AwarenessTable(max_clients_per_connection=1)
    table.apply("a", [E(1, 1, '"a"')])
    table.apply("b", [E(2, 1, '"b"')])
    table.apply("c", [E(3, 1, '"c"')])
    assert table.apply("c", [E(1, 1, '"a"'), E(2, 1, '"b"'), E(3, 1, '"c"')]) == ()
    assert table.clients_of("c") == {3}


def test_cap_on_client_ids_per_connection() -> None:
    table: AwarenessTable[str] = AwarenessTable(max_clients_per_connection=2)
    table.apply("a", [E(1, 1, "{}"), E(2, 1, "{}")])
    with pytest.raises(AwarenessLimitExceeded, match="at most 2"):
        table.apply("a", [E(3, 1, "{}")])
    assert table.states == {1: "{}", 2: "{}"}
    assert table.clock_of(3) is None
    # Leaving and joining in one batch stays within the bound.
    assert len(table.apply("a", [E(1, 2, "null"), E(3, 1, "{}")])) == 2
    assert table.clients_of("a") == {2, 3}


def test_cap_on_state_size() -> None:
    table: AwarenessTable[str] = AwarenessTable(max_state_bytes=16)
    table.apply("a", [E(1, 1, '"' + "x" * 14 + '"')])
    with pytest.raises(AwarenessLimitExceeded, match="larger than 16 bytes"):
        table.apply("a", [E(2, 1, '"' + "x" * 15 + '"')])
    # Counted in UTF-8 bytes, not characters.
    with pytest.raises(AwarenessLimitExceeded):
        table.apply("a", [E(2, 1, '"' + "é" * 8 + '"')])


def test_invalid_json_rejects_the_whole_batch() -> None:
    table: AwarenessTable[str] = AwarenessTable()
    with pytest.raises(InvalidAwarenessState):
        table.apply("a", [E(1, 1, "{}"), E(2, 1, "{oops")])
    assert table.states == {}
    assert table.clock_of(1) is None


def test_snapshot() -> None:
    table: AwarenessTable[str] = AwarenessTable()
    assert table.snapshot() is None
    table.apply("a", [E(1, 3, '{"n":"a"}'), E(2, 1, "{}")])
    table.apply("a", [E(2, 2, "null")])
    assert table.snapshot() == encode_awareness([E(1, 3, '{"n":"a"}')])


def test_relayed_entries_have_no_owner() -> None:
    table: AwarenessTable[str] = AwarenessTable(max_clients_per_connection=1)
    table.apply(None, [E(1, 1, "{}"), E(2, 1, "{}")])
    assert len(table) == 2
    assert table.remove_connection("a") is None


def test_remove_outdated() -> None:
    clock = FakeClock()
    table: AwarenessTable[str] = AwarenessTable(outdated_after=30.0, clock=clock)
    table.apply("a", [E(1, 1, "{}")])
    clock.now += 20
    table.apply("b", [E(2, 1, "{}")])
    assert table.remove_outdated() is None
    clock.now += 10
    assert entries_of(table.remove_outdated()) == (E(1, 1, "null"),)
    assert table.states == {2: "{}"}
    assert table.clients_of("a") == frozenset()


def test_tombstones_are_bounded() -> None:
    table: AwarenessTable[str] = AwarenessTable(max_tombstones=2)
    for cid in range(1, 4):
        table.apply("a", [E(cid, 1, "{}"), E(cid, 2, "null")])
    assert table.clock_of(1) is None  # forgotten, oldest first
    assert table.clock_of(2) == 2
    assert table.clock_of(3) == 2


def test_bounds_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        AwarenessTable(max_clients_per_connection=0)


class Model:
    """y-protocols' applyAwarenessUpdate, transcribed as plainly as possible (no ownership)."""

    def __init__(self) -> None:
        self.clocks: dict[int, int] = {}
        self.states: dict[int, str] = {}

    def apply(self, entries: list[AwarenessEntry]) -> None:
        for e in entries:
            curr = self.clocks.get(e.client_id, 0)
            removal = e.state == "null"
            if curr < e.clock or (curr == e.clock and removal and e.client_id in self.states):
                if removal:
                    self.states.pop(e.client_id, None)
                else:
                    self.states[e.client_id] = e.state
                self.clocks[e.client_id] = e.clock


entry_strategy = st.builds(
    AwarenessEntry,
    st.integers(min_value=0, max_value=4),
    st.integers(min_value=0, max_value=6),
    st.sampled_from(["null", "{}", '{"a":1}', "[]"]),
)


@given(st.lists(st.tuples(st.sampled_from("abc"), st.lists(entry_strategy, max_size=4)), max_size=30))
def test_table_agrees_with_y_protocols(batches: list[tuple[str, list[AwarenessEntry]]]) -> None:
    table: AwarenessTable[str] = AwarenessTable(max_clients_per_connection=100)
    model = Model()
    for conn, entries in batches:
        table.apply(conn, entries)
        model.apply(entries)
        assert table.states == model.states
    # Every present client is owned by exactly one connection.
    owned = [cid for conn in "abc" for cid in table.clients_of(conn)]
    assert sorted(owned) == sorted(model.states)
    for conn in "abc":
        table.remove_connection(conn)
    assert table.states == {}
