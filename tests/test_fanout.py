"""Fan-out: frames offered to a client's socket are written in order and whole, never waiting.

The registry writes each broadcast's one encoded frame to every websocket client from one
thread (``FrameFanout`` → ``WholeFrameSocket.offer``); a client whose socket is full keeps
the rest in its backlog for its own writer thread, and is counted there (ClientRegistry
holds it back past its bounds). These tests use real loopback TCP sockets with small
buffers, so that writes are cut short as they are for a stuck client.
"""

from __future__ import annotations

import socket
import threading
import time

from support import Api, LiveClient, loopback_pair, read_all

from testkit.client import SocketClient
from testkit.waiting import wait_for
from webapp.fanout import FrameFanout
from webapp.framesocket import WholeFrameSocket
from webapp.serving import text_frame


def _frames(data: bytes) -> list[bytes]:
    """Split what a socket received into text frames' payloads (unmasked, as a server writes)."""
    out, i = [], 0
    while i < len(data):
        assert data[i] == 0x81, f"not a final text frame at byte {i}"
        size, i = data[i + 1] & 0x7F, i + 2
        if size == 126:
            size, i = int.from_bytes(data[i : i + 2], "big"), i + 2
        elif size == 127:
            size, i = int.from_bytes(data[i : i + 8], "big"), i + 8
        out.append(data[i : i + size])
        i += size
    return out


def _writer(frames: WholeFrameSocket) -> threading.Thread:
    """What the connection's writer thread does when woken: flush, in its own thread."""
    wake = threading.Semaphore(0)
    frames.wake_writer = wake.release

    def run() -> None:
        while wake.acquire(timeout=30) and frames.backlog()[0]:
            frames.flush()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_offered_frames_arrive_whole_and_in_order_among_blocking_sends():
    """Offers cut short by a full socket, their rest flushed by the writer, and another
    thread's own frames (pings, pongs) in between: every frame whole, the offered in order."""
    sender, receiver = loopback_pair()
    try:
        frames = WholeFrameSocket(sender)
        frames.release()
        _writer(frames)
        received = bytearray()
        reader = threading.Thread(target=read_all, args=(receiver, received), daemon=True)
        reader.start()
        offered = [f"{i:06d}".encode() * (1 + i % 5_000) for i in range(400)]
        other = threading.Thread(target=lambda: [frames.send(*text_frame(b"ping")) for _ in range(200)])
        other.start()
        for payload in offered:
            assert frames.offer(*text_frame(payload))
        other.join(30)
        wait_for(lambda: frames.backlog() == (0, 0), 30, "the backlog to be written")
        sender.shutdown(socket.SHUT_WR)
        reader.join(30)
        got = _frames(bytes(received))
        assert [f for f in got if f != b"ping"] == offered
        assert got.count(b"ping") == 200
    finally:
        sender.close()
        receiver.close()


def test_an_offer_to_a_client_that_never_reads_returns_at_once_and_is_counted():
    """A stuck client costs the fan-out thread no wait: its frames stay in its backlog."""
    sender, receiver = loopback_pair(4096)
    try:
        frames = WholeFrameSocket(sender)
        frames.release()
        payload = b"x" * 100_000
        started = time.monotonic()
        for _ in range(20):
            assert frames.offer(*text_frame(payload))
        assert time.monotonic() - started < 1.0
        count, size = frames.backlog()
        assert count >= 19 and size > 18 * len(payload)
    finally:
        sender.close()
        receiver.close()


def test_nothing_offered_is_written_before_the_open_packet():
    """A client's first frame is Engine.IO's OPEN: what is offered before waits for it."""
    sender, receiver = loopback_pair()
    try:
        frames = WholeFrameSocket(sender)
        frames.offer(*text_frame(b"4early"))
        assert frames.backlog()[0] == 1
        frames.send(*text_frame(b"0open"))  # the writer thread's first packet (then release())
        frames.release()
        assert frames.backlog() == (0, 0)
        sender.shutdown(socket.SHUT_WR)
        received = bytearray()
        read_all(receiver, received)
        assert _frames(bytes(received)) == [b"0open", b"4early"]
    finally:
        sender.close()
        receiver.close()


def test_the_fanout_thread_writes_each_frame_to_every_target_in_order():
    pairs = [loopback_pair() for _ in range(5)]
    fanout = FrameFanout()
    try:
        targets = [WholeFrameSocket(sender) for sender, _ in pairs]
        for target in targets:
            target.release()
        for i in range(50):
            fanout.put(text_frame(b"42" + str(i).encode()), targets)
        fanout.close()
        for sender, receiver in pairs:
            sender.shutdown(socket.SHUT_WR)
            received = bytearray()
            read_all(receiver, received)
            assert _frames(bytes(received)) == [b"42" + str(i).encode() for i in range(50)]
    finally:
        for sender, receiver in pairs:
            sender.close()
            receiver.close()


class TransportClient(SocketClient):
    """The test kit's Socket.IO client on other transports than the page's websocket."""

    def __init__(self, api: Api, transports: list[str]) -> None:
        self.transports = transports
        super().__init__(api)

    def connect(self, **options: object) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self.client.connect(self.url, transports=self.transports, wait_timeout=10, headers=headers)


def test_every_client_sees_every_change_in_order_whatever_its_transport(api: Api):
    """Websocket clients are written by the fan-out thread (more than a few of them);
    a long-polling client and one that upgraded from polling keep Engine.IO's queue. Each
    rebuilds the same state from its snapshot and the changes after it, with no gap."""
    clients = [LiveClient(api) for _ in range(6)]
    clients += [TransportClient(api, ["polling"]), TransportClient(api, ["polling", "websocket"])]
    try:
        for client in clients:
            client.wait(lambda c=client: c.replica.version is not None, what="the first snapshot")
        pids = [w["pid"] for w in api.spawn(2, "fill", n=200, target="list")]
        pids += [w["pid"] for w in api.spawn(1, "fill", n=100, target="dict")]
        api.wait_all_ended(pids)
        state = api.wait_settled()
        assert len(state["list"]) == 400 and len(state["dict"]) == 100
        for client in clients:
            client.wait(lambda c=client: c.version == state["version"], 20, "the last change")
            assert client.replica.list == state["list"] and client.replica.dict == state["dict"]
            assert client.snapshots == 1, "a gap in the changes made it ask for another snapshot"
    finally:
        for client in clients:
            client.close()
