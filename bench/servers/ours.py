"""Runner for our collab server in the benchmark (placeholder until the server exists).

Contract with ``bench/collab_load.py`` (see ``bench/README.md``, "Plugging in a server"):

* Started as ``.venv/bin/python bench/servers/ours.py --port P`` in its own process group; it must bind
  127.0.0.1:P only, and is stopped with SIGTERM (then SIGKILL after 5 s) sent to that group.
* Prints ``READY ws://127.0.0.1:P/v1/collab`` on stdout once it accepts connections; clients then open
  ``<that url>/<room>?<query>``.
* May print, before READY, one line ``PARAMS <json object>``: string values sent as query parameters on
  every connection, with ``{room}`` replaced by the room name (e.g. ``PARAMS {"ticket": "dev-{room}"}``).
* May define ``query_params(room: str, index: int, info: dict[str, object]) -> dict[str, str]`` in this
  file: the harness imports it (main venv) and calls it once per connection, before connecting, with the
  parsed PARAMS object as ``info`` — for tickets that are per room or single-use.
"""

from __future__ import annotations

import argparse
import sys


def main() -> None:
    parser = argparse.ArgumentParser(description="our collab server, for bench/collab_load.py")
    parser.add_argument("--port", type=int, required=True)
    parser.parse_args()
    print("ours: not yet available — the collab server runner is still being written", file=sys.stderr)
    sys.exit(3)


if __name__ == "__main__":
    main()
