"""Close codes of the signaling websocket (docs/signaling.md §Close codes).

1xxx codes mean "reconnect when you like"; 44xx mean "do not come back as you are" (fix the
credentials, the client or wait for a free seat).
"""

from __future__ import annotations

from enum import IntEnum


class Close(IntEnum):
    NORMAL = 1000  # the client sent `leave`
    GOING_AWAY = 1001  # this node is stopping: reconnect (to another node)
    MESSAGE_TOO_BIG = 1009  # a frame over the server's websocket frame limit
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012  # uvicorn's close for open connections at shutdown
    TRY_AGAIN_LATER = 1013  # message flood, a client that does not read, or the registry is unreachable
    BAD_CLIENT = 4400  # too many invalid messages in a short time
    UNAUTHORIZED = 4401  # missing, invalid or expired credentials
    FORBIDDEN = 4403  # authenticated, but not allowed in this room (or removed from it)
    ROOM_FULL = 4409  # the mesh call already has `signal_max_peers` peers
