"""Reading a document's roots as JSON without stalling the node.

Theory of operation. pycrdt holds the GIL while it decodes a document (a 20 MiB document of small
map entries takes about a second), so a thread would not free the event loop: a large document is
decoded in a worker *process*, small ones (up to ``inline_max_bytes``) inline, where they cost a few
milliseconds. Either way the document is decoded once per request, and every root requested is read
from that one copy and serialized to JSON bytes where it was decoded. The caller bounds the number
of root names; a semaphore bounds the requests in flight on this node, and a request that cannot get
a turn within ``wait_seconds`` is refused with :class:`ReaderBusy` (the HTTP layer answers 503). The
worker only ever sees the encoded state bytes — never a live room's ``Doc``.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Literal, Self

import orjson
from pycrdt import Array, Doc, Map, Text

log = logging.getLogger("dojo.doc_reader")

RootKind = Literal["text", "map", "array"]


class ReaderError(Exception):
    """The content could not be read right now (base of this module's errors)."""


class ReaderBusy(ReaderError):
    """Too many content reads are in flight on this node; retry later."""


def read_roots(state: bytes, roots: Sequence[tuple[RootKind, str]]) -> bytes:
    """Decode ``state`` once and return the JSON of the named roots (or, when none is named, the
    list of root names): ``{"text": {...}, "map": {...}, "array": {...}[, "roots": [...]]}``.

    Each name is read as one type only (the caller guarantees it): reading a root as a type fixes
    its type in the decoded copy.
    """
    doc: Doc[Any] = Doc()
    doc.apply_update(state)
    result: dict[str, Any] = {"text": {}, "map": {}, "array": {}}
    if not roots:
        result["roots"] = sorted(doc.keys())
    for kind, name in roots:
        if kind == "text":
            result["text"][name] = str(doc.get(name, type=Text))
        elif kind == "map":
            result["map"][name] = doc.get(name, type=Map).to_py()
        else:
            result["array"][name] = doc.get(name, type=Array).to_py()
    return orjson.dumps(result)


class ContentReader:
    """Runs :func:`read_roots` for requests, inline or in ``workers`` processes; an async context
    manager (the pool starts on first use and stops when the block ends)."""

    def __init__(self, *, workers: int, concurrency: int, wait_seconds: float, inline_max_bytes: int) -> None:
        if workers < 1 or concurrency < 1 or wait_seconds <= 0 or inline_max_bytes < 0:
            raise ValueError("workers and concurrency must be positive, wait_seconds > 0, inline_max_bytes >= 0")
        self._workers = workers
        self._turns = asyncio.Semaphore(concurrency)
        self._wait = wait_seconds
        self._inline_max = inline_max_bytes
        self._pool: ProcessPoolExecutor | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    async def read(self, state: bytes, roots: Sequence[tuple[RootKind, str]]) -> bytes:
        """The JSON of ``roots`` of the document ``state`` (see :func:`read_roots`).

        Raises :class:`ReaderBusy` when no turn frees up within ``wait_seconds``.
        """
        if len(state) <= self._inline_max:
            return read_roots(state, roots)
        try:
            async with asyncio.timeout(self._wait):
                await self._turns.acquire()
        except TimeoutError:
            raise ReaderBusy("too many document reads in progress on this node; retry shortly") from None
        try:
            pool = self._pool
            if pool is None:
                pool = self._pool = ProcessPoolExecutor(self._workers, mp_context=multiprocessing.get_context("spawn"))
            try:
                return await asyncio.get_running_loop().run_in_executor(pool, read_roots, state, tuple(roots))
            except BrokenProcessPool as exc:
                # A worker died (e.g. killed for memory): start a fresh pool for the next request.
                log.error("a document reader process died; restarting the pool")
                if self._pool is pool:
                    self._pool = None
                    pool.shutdown(wait=False, cancel_futures=True)
                raise ReaderError("the document reader failed; retry") from exc
        finally:
            self._turns.release()
