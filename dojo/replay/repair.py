"""Closing the gap a dead node leaves: what a dojo's final document holds that its history lacks.

A node writes what its clients sent a moment after accepting it (its writer's queue). A node killed in
that moment takes the queue with it, while the edits live on (they were relayed to the other nodes).
When the dojo ends, the ending node compares the sealed final document with the history rebuilt to
the end and records the difference at the end instant — one update per Yjs client, each attributed
to the user whose recorded updates carry that client id (a client id belongs to one user's document),
so nothing the clients saw is missing from the history and blame still names the typist.
"""

from __future__ import annotations

from collections.abc import Iterable

import pycrdt

from crdt.lib0 import Encoder
from crdt.updates import state_vector_clocks, update_goes_beyond
from dojo.replay.engine import LoggedUpdate

__all__ = ["client_owners", "missing_parts"]


def _encode_state_vector(clocks: dict[int, int]) -> bytes:
    enc = Encoder()
    enc.write_var_uint(len(clocks))
    for client, clock in clocks.items():
        enc.write_var_uint(client)
        enc.write_var_uint(clock)
    return enc.to_bytes()


def missing_parts(final_state: bytes, history_state_vector: bytes) -> list[tuple[int | None, bytes]]:
    """What ``final_state`` holds beyond a document at ``history_state_vector``: (Yjs client id, an
    update with that client's missing structs and every missing deletion) per client, or one
    ``(None, update)`` when only deletions are missing; empty when nothing is."""
    have = state_vector_clocks(history_state_vector)
    missing = pycrdt.get_update(final_state, history_state_vector)
    if not update_goes_beyond(missing, have):
        return []
    final_clocks = state_vector_clocks(pycrdt.get_state(final_state))
    behind = [client for client, clock in final_clocks.items() if clock > have.get(client, 0)]
    if not behind:
        return [(None, missing)]
    return [
        (client, pycrdt.get_update(final_state, _encode_state_vector({**final_clocks, client: have.get(client, 0)})))
        for client in behind
    ]


def client_owners(updates: Iterable[LoggedUpdate]) -> dict[int, str | None]:
    """{Yjs client id: the user whose recorded updates carry it} (the latest record wins)."""
    owners: dict[int, str | None] = {}
    for logged in updates:
        for client in state_vector_clocks(pycrdt.get_state(logged.update)):
            owners[client] = logged.user_id
    return owners
