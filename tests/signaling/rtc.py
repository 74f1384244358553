"""aiortc peers driven by the signaling service, for tests: synthetic audio and video tracks, a data
channel, and trickle ICE (aiortc puts its candidates in the SDP; we move them into `candidate`
messages so the relay of ICE candidates is exercised as a browser would use it).

Convention (docs/signaling.md): a newcomer sends offers to every peer of its `welcome` list; the
others answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import time
from collections import Counter, defaultdict
from typing import Any

import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCDataChannel,
    RTCIceCandidate,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp

from tests.signaling.client import Closed, SignalClient

log = logging.getLogger("tests.signaling.rtc")
AUDIO_RATE = 48_000
AUDIO_SAMPLES = 960  # 20 ms
VIDEO_CLOCK = 90_000
VIDEO_FPS = 30


class ToneTrack(MediaStreamTrack):
    """20 ms frames of 16-bit mono silence-ish audio, paced in real time."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._pts = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self._pts / AUDIO_RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = av.AudioFrame(format="s16", layout="mono", samples=AUDIO_SAMPLES)
        for plane in frame.planes:
            plane.update(bytes([self._pts // AUDIO_SAMPLES % 256]) * plane.buffer_size)
        frame.sample_rate = AUDIO_RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._pts += AUDIO_SAMPLES
        return frame


class ShadeTrack(MediaStreamTrack):
    """160×120 frames whose shade changes every frame, paced at 30 fps."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self._count = 0
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self._count / VIDEO_FPS - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = av.VideoFrame(width=160, height=120, format="yuv420p")
        for plane in frame.planes:
            plane.update(bytes([self._count * 7 % 256]) * plane.buffer_size)
        frame.pts = self._count * (VIDEO_CLOCK // VIDEO_FPS)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._count += 1
        return frame


def split_candidates(sdp: str) -> tuple[str, list[dict[str, Any]]]:
    """The SDP without its candidate lines, and those candidates as RTCIceCandidateInit dicts."""
    kept: list[str] = []
    candidates: list[dict[str, Any]] = []
    index = -1
    mids: list[str | None] = []
    for line in sdp.splitlines():
        if line.startswith("m="):
            index += 1
            mids.append(None)
        elif line.startswith("a=mid:"):
            mids[index] = line[len("a=mid:") :]
    index = -1
    for line in sdp.splitlines():
        if line.startswith("m="):
            index += 1
        if line.startswith("a=candidate:"):
            candidates.append({"candidate": line[2:], "sdpMid": mids[index], "sdpMLineIndex": index})
            continue
        if line.startswith("a=end-of-candidates"):
            continue
        kept.append(line)
    return "\r\n".join(kept) + "\r\n", candidates


def to_rtc_candidate(init: dict[str, Any]) -> RTCIceCandidate:
    candidate = candidate_from_sdp(init["candidate"].split(":", 1)[1])
    candidate.sdpMid = init["sdpMid"]
    candidate.sdpMLineIndex = init["sdpMLineIndex"]
    return candidate


class RtcPeer:
    """One participant: a signaling client and one RTCPeerConnection per remote peer (mesh)."""

    def __init__(self, name: str, client: SignalClient) -> None:
        self.name = name
        self.client = client
        self.pcs: dict[str, RTCPeerConnection] = {}
        self.frames: dict[str, Counter[str]] = defaultdict(Counter)
        self.messages: dict[str, list[str]] = defaultdict(list)
        self.channels: dict[str, RTCDataChannel] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task = asyncio.create_task(self._signal_loop(), name=f"rtc-signal-{name}")

    @property
    def peer_id(self) -> str:
        return self.client.peer_id

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _connection(self, remote: str) -> RTCPeerConnection:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTrack(ToneTrack())
        pc.addTrack(ShadeTrack())
        self.pcs[remote] = pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._spawn(self._count_frames(remote, track))

        @pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            self._attach(remote, channel, greet=False)

        return pc

    def _attach(self, remote: str, channel: RTCDataChannel, *, greet: bool) -> None:
        self.channels[remote] = channel

        @channel.on("message")
        def on_message(message: str | bytes) -> None:
            text = message if isinstance(message, str) else message.decode()
            self.messages[remote].append(text)
            if not greet and text.startswith("hello from"):
                channel.send(f"hello back from {self.name}")

        if greet:

            @channel.on("open")
            def on_open() -> None:
                channel.send(f"hello from {self.name}")

    async def _count_frames(self, remote: str, track: MediaStreamTrack) -> None:
        try:
            while True:
                await track.recv()
                self.frames[remote][track.kind] += 1
        except MediaStreamError:
            log.debug("%s: the %s track from %s ended", self.name, track.kind, remote)

    async def call(self, remote: str) -> None:
        """Offer a connection (audio, video, a data channel) to `remote`."""
        pc = self._connection(remote)
        self._attach(remote, pc.createDataChannel("chat"), greet=True)
        await pc.setLocalDescription(await pc.createOffer())
        sdp, candidates = split_candidates(pc.localDescription.sdp)
        await self.client.send({"type": "offer", "to": remote, "sdp": sdp})
        await self._send_candidates(remote, candidates)

    async def _send_candidates(self, remote: str, candidates: list[dict[str, Any]]) -> None:
        for candidate in candidates:
            await self.client.send({"type": "candidate", "to": remote, "candidate": candidate})
        await self.client.send({"type": "candidate", "to": remote, "candidate": None})

    async def _signal_loop(self) -> None:
        while True:
            try:
                message = await self.client.next("offer", "answer", "candidate", within=3600)
            except Closed:
                log.debug("%s: signaling closed", self.name)
                return
            remote = message["from"]
            if message["type"] == "offer":
                pc = self._connection(remote)
                await pc.setRemoteDescription(RTCSessionDescription(message["sdp"], "offer"))
                await pc.setLocalDescription(await pc.createAnswer())
                sdp, candidates = split_candidates(pc.localDescription.sdp)
                await self.client.send({"type": "answer", "to": remote, "sdp": sdp})
                await self._send_candidates(remote, candidates)
            elif message["type"] == "answer":
                await self.pcs[remote].setRemoteDescription(RTCSessionDescription(message["sdp"], "answer"))
            else:
                init = message["candidate"]
                candidate = None if init is None or not init["candidate"] else to_rtc_candidate(init)
                await self.pcs[remote].addIceCandidate(candidate)

    def received_media_from(self, remote: str, frames: int = 5) -> bool:
        counts = self.frames[remote]
        return counts["audio"] >= frames and counts["video"] >= frames

    async def close(self) -> None:
        self._loop_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):  # we cancelled it
            await self._loop_task
        for pc in self.pcs.values():
            await pc.close()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
