"""The awareness table: y-protocols clock rules, ownership, removal on close, bounds, clocks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crdt import (
    AwarenessClockOutOfRange,
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
    assert table.clients_of("a") == {10}  # its own null does not give the ID away
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


def test_the_first_connection_keeps_its_id_while_connected() -> None:
    table: AwarenessTable[str] = AwarenessTable()
    table.apply("owner", [E(10, 4, '"x"')])
    # Another connection can neither overwrite nor remove it, whatever the clock.
    assert table.apply("other", [E(10, 5, '"forged"')]) == ()
    assert table.apply("other", [E(10, 4, "null")]) == ()
    assert table.apply("other", [E(10, 2**32, "null"), E(10, 9, '"again"')]) == ()
    assert table.states == {10: '"x"'}
    assert table.clock_of(10) == 4
    assert table.owner_of(10) == "owner"
    assert table.clients_of("other") == frozenset()
    assert table.foreign_dropped == 4
    # The owner goes on as before, and closing the other connection changes nothing.
    assert table.apply("owner", [E(10, 5, '"y"')]) == (E(10, 5, '"y"'),)
    assert table.remove_connection("other") is None
    assert table.states == {10: '"y"'}


def test_the_owner_keeps_its_id_after_its_own_null() -> None:
    table: AwarenessTable[str] = AwarenessTable()
    table.apply("owner", [E(10, 1, '"x"')])
    assert table.apply("owner", [E(10, 2, "null")]) == (E(10, 2, "null"),)
    assert table.apply("other", [E(10, 3, '"mine now"')]) == ()
    assert table.states == {}
    assert table.apply("owner", [E(10, 3, '"back"')]) == (E(10, 3, '"back"'),)


def test_an_id_is_released_when_its_owner_disconnects() -> None:
    table: AwarenessTable[str] = AwarenessTable()
    table.apply("owner", [E(10, 7, '"x"')])
    assert entries_of(table.remove_connection("owner")) == (E(10, 7, "null"),)
    assert table.owner_of(10) is None
    # The same client, reconnected: its re-announcement (same clock) is ignored, its renewal owned.
    assert table.apply("again", [E(10, 7, '"x"')]) == ()
    assert table.apply("again", [E(10, 8, '"x"')]) == (E(10, 8, '"x"'),)
    assert table.owner_of(10) == "again"


def test_echoes_are_not_counted_as_foreign() -> None:
    # y-websocket clients echo every change they hear at its clock: not an attempt to change it.
    table: AwarenessTable[str] = AwarenessTable()
    table.apply("a", [E(1, 3, '"a"')])
    assert table.apply("b", [E(1, 3, '"a"'), E(1, 2, '"older"')]) == ()
    assert table.foreign_dropped == 0


def test_clocks_no_client_reaches_are_refused_at_the_sender() -> None:
    table: AwarenessTable[str] = AwarenessTable()
    table.apply("a", [E(1, 1, "{}")])
    for clock in (2**53 - 1, 2**32 + 1):
        for state in ("{}", "null"):
            with pytest.raises(AwarenessClockOutOfRange, match="no client counts that far"):
                table.apply("a", [E(2, 1, "{}"), E(1, clock, state)])
    assert table.states == {1: "{}"}
    assert table.clock_of(2) is None
    assert table.apply("a", [E(1, 2**32, "{}")]) == (E(1, 2**32, "{}"),)
    assert issubclass(AwarenessClockOutOfRange, AwarenessLimitExceeded)


def test_owned_ids_survive_tombstone_eviction() -> None:
    table: AwarenessTable[str] = AwarenessTable(max_tombstones=1)
    table.apply("owner", [E(1, 1, "{}"), E(1, 2, "null")])
    table.apply("stranger", [E(cid, 5, "null") for cid in range(2, 6)])
    assert table.clock_of(1) == 2
    assert table.apply("stranger", [E(1, 3, '"mine"')]) == ()


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
    # Leaving does not free a slot: the connection keeps the ID while connected.
    with pytest.raises(AwarenessLimitExceeded):
        table.apply("a", [E(1, 2, "null"), E(3, 1, "{}")])
    assert table.clients_of("a") == {1, 2}


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


def test_relayed_entries_are_owned_by_their_node() -> None:
    table: AwarenessTable[str] = AwarenessTable(max_clients_per_connection=1)
    assert len(table.apply_remote("node-b", [E(1, 1, "{}"), E(2, 1, "{}")])) == 2
    assert table.owner_of(1) == "node-b"
    assert table.remove_connection("a") is None
    # Neither a local connection nor a third node may change them.
    assert table.apply("a", [E(1, 2, '"forged"')]) == ()
    assert table.apply_remote("node-c", [E(1, 2, "null")]) == ()
    assert table.foreign_dropped == 2
    # Their node may; its null releases the ID, which a local connection may then introduce.
    assert table.apply_remote("node-b", [E(1, 2, '"moved"')]) == (E(1, 2, '"moved"'),)
    assert table.apply_remote("node-b", [E(1, 3, "null")]) == (E(1, 3, "null"),)
    assert table.owner_of(1) is None
    assert table.apply("a", [E(1, 4, '"here now"')]) == (E(1, 4, '"here now"'),)
    assert table.owner_of(1) == "a"


def test_relayed_entries_cannot_change_what_a_local_connection_owns() -> None:
    table: AwarenessTable[str] = AwarenessTable()
    table.apply("victim", [E(7, 2, '"me"')])
    assert table.apply_remote("node-b", [E(7, 3, '"forged"'), E(7, 3, "null")]) == ()
    assert table.states == {7: '"me"'}
    assert table.foreign_dropped == 2


def test_a_relayed_clock_beyond_the_bound_drops_only_that_entry() -> None:
    table: AwarenessTable[str] = AwarenessTable()
    accepted = table.apply_remote("node-b", [E(1, 2**53 - 1, "{}"), E(2, 1, "{}")])
    assert accepted == (E(2, 1, "{}"),)
    assert table.clock_of(1) is None


def test_remove_outdated() -> None:
    clock = FakeClock()
    table: AwarenessTable[str] = AwarenessTable(outdated_after=30.0, clock=clock)
    table.apply("a", [E(1, 1, "{}")])
    table.apply_remote("node-b", [E(3, 1, "{}")])
    clock.now += 20
    table.apply("b", [E(2, 1, "{}")])
    assert table.remove_outdated() is None
    clock.now += 10
    assert entries_of(table.remove_outdated()) == (E(1, 1, "null"), E(3, 1, "null"))
    assert table.states == {2: "{}"}
    # The local connection still owns its ID (its client answers the null by renewing); the node's is released.
    assert table.clients_of("a") == {1}
    assert table.apply("a", [E(1, 2, "{}")]) == (E(1, 2, "{}"),)
    assert table.owner_of(3) is None


def test_tombstones_are_bounded() -> None:
    table: AwarenessTable[str] = AwarenessTable(max_tombstones=2)
    for cid in range(1, 4):
        table.apply(f"c{cid}", [E(cid, 1, "{}"), E(cid, 2, "null")])
        table.remove_connection(f"c{cid}")
    assert table.clock_of(1) is None  # forgotten, oldest first
    assert table.clock_of(2) == 2
    assert table.clock_of(3) == 2


def test_bounds_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        AwarenessTable(max_clients_per_connection=0)


class Model:
    """y-protocols' applyAwarenessUpdate, transcribed as plainly as possible, plus the server's
    ownership rule: the first connection whose state is accepted owns the ID until it closes."""

    def __init__(self) -> None:
        self.clocks: dict[int, int] = {}
        self.states: dict[int, str] = {}
        self.owners: dict[int, str] = {}

    def apply(self, conn: str, entries: list[AwarenessEntry]) -> None:
        for e in entries:
            if self.owners.get(e.client_id, conn) != conn:
                continue
            curr = self.clocks.get(e.client_id, 0)
            removal = e.state == "null"
            if curr < e.clock or (curr == e.clock and removal and e.client_id in self.states):
                if removal:
                    self.states.pop(e.client_id, None)
                else:
                    self.states[e.client_id] = e.state
                    self.owners[e.client_id] = conn
                self.clocks[e.client_id] = e.clock

    def close(self, conn: str) -> None:
        for cid in [cid for cid, owner in self.owners.items() if owner == conn]:
            del self.owners[cid]
            self.states.pop(cid, None)


entry_strategy = st.builds(
    AwarenessEntry,
    st.integers(min_value=0, max_value=4),
    st.integers(min_value=0, max_value=6),
    st.sampled_from(["null", "{}", '{"a":1}', "[]"]),
)


@given(
    st.lists(
        st.one_of(
            st.tuples(st.sampled_from("abc"), st.lists(entry_strategy, max_size=4)),
            st.tuples(st.sampled_from("abc"), st.none()),
        ),
        max_size=30,
    )
)
def test_table_agrees_with_y_protocols_and_ownership(batches: list[tuple[str, list[AwarenessEntry] | None]]) -> None:
    table: AwarenessTable[str] = AwarenessTable(max_clients_per_connection=100)
    model = Model()
    for conn, entries in batches:
        if entries is None:
            table.remove_connection(conn)
            model.close(conn)
        else:
            table.apply(conn, entries)
            model.apply(conn, entries)
        assert table.states == model.states
        assert {cid: table.owner_of(cid) for cid in model.owners} == model.owners
    # Every present client is owned by exactly one connection.
    owned = [cid for conn in "abc" for cid in table.clients_of(conn)]
    assert set(model.states) <= set(owned) and len(owned) == len(set(owned))
    for conn in "abc":
        table.remove_connection(conn)
    assert table.states == {}
