"""Telling a read-only collab client that its edits are dropped: a room extension over `DojoLive`.

The engine drops document updates from read-only connections (`crdt.Room`) and reports each through
`RoomExtension.on_readonly_write`; this extension hands the report to the dojo's live state, which knows
why the connection is read-only (observer, not the randori driver, a read-only ticket) and sends the
y-websocket permission-denied message once per reason (`DojoLive.write_refused`).
"""

from __future__ import annotations

from collections.abc import Callable

from crdt import Channel, ReadOnlyWrite, RoomExtension


class EditRefusals(RoomExtension):
    def __init__(self, refused: Callable[[str, Channel], None]) -> None:
        self._refused = refused

    def on_readonly_write(self, event: ReadOnlyWrite) -> None:
        self._refused(event.room.name, event.channel)
