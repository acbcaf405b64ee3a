"""Load: messages of any size arrive whole, resync floods are absorbed, output stays bounded.

Long variants run in ``make chaos`` (chaos/run.py: big_state, resync_flood).
"""

from __future__ import annotations

import socket
import threading

import pytest
from flood_scenarios import big_state, ended_output, output_flood, resync_flood
from reliability_support import (  # noqa: F401 -- servers_fixture provides `servers`
    Server,
    servers_fixture,
)
from support import loopback_pair, read_all
from wsproto.frame_protocol import FrameProtocol

from webapp.output import BATCH_BYTES
from webapp.serving import WholeFrameSocket, frame_header
from webapp.snapshots import ChangeHistory


def test_a_socket_with_a_timeout_writes_big_frames_whole_and_never_interleaves_them():
    """What simple-websocket does with the served socket (one ``send`` per frame, from two threads)
    writes every byte, each frame in one piece, though the socket takes 64 KiB at a time."""
    sender, receiver = loopback_pair(64 * 1024)
    try:
        frame = 4 * 2**20
        # the premise: on this socket one plain send() writes only part of a big frame
        assert sender.send(bytes(frame)) < frame
        received = bytearray()
        reader = threading.Thread(target=read_all, args=(receiver, received))
        reader.daemon = True
        reader.start()
        # drain what the plain send() left behind, then send two frames at once from two threads
        wrapped = WholeFrameSocket(sender)
        frames = [b"A" * frame, b"B" * frame]
        senders = [threading.Thread(target=wrapped.send, args=(f,)) for f in frames]
        for t in senders:
            t.start()
        for t in senders:
            t.join(60)
        sender.shutdown(socket.SHUT_WR)
        reader.join(60)
        tail = bytes(received).lstrip(b"\0")
        assert sorted([tail[:frame], tail[frame:]]) == frames, "a frame was cut or interleaved"
    finally:
        sender.close()
        receiver.close()


def test_a_500000_item_list_arrives_whole_and_the_client_stays_connected(servers):
    """The official python-socketio client gets a 500,000-item ``extend`` (~4 MB) and, joining
    later, a snapshot of that list, both whole; both clients stay connected and keep receiving."""
    srv: Server = servers(max_workers=4)
    figures = big_state(srv, items=500_000)
    assert figures["disconnects"] == 0, figures


def test_a_client_flooding_resync_gets_a_few_snapshots_and_another_keeps_up(servers):
    """5,000 ``resync`` at once with 3,000 dict entries and a writer running: they coalesce into
    at most one snapshot per half second for that client, the last one current; another client
    stays in step, and the server's threads come back to their baseline."""
    srv: Server = servers(max_workers=4)
    figures = resync_flood(srv, requests=5000, entries=3000, seconds=2)
    assert figures["snapshots_received"] >= 1, figures


def test_output_comes_in_bounded_batches_and_no_line_goes_unaccounted(servers):
    """4 printers send 40 MB of 10,000-character lines flat out: no ``output`` message is over
    256 KiB, each line either arrives or is counted in ``skipped``, the client stays connected."""
    srv: Server = servers(max_workers=4)
    figures = output_flood(srv, printers=4, lines=1000, width=10_000)
    assert figures["largest_message_bytes"] <= BATCH_BYTES, figures


def test_ended_workers_output_shares_one_budget_oldest_dropped_first(servers):
    """With ``--ended-output-mib 1``, eight ended printers of ~780 KiB each: what is kept stays
    within 1 MiB, the oldest lose their lines first, the newest keeps all of its own."""
    srv: Server = servers("--ended-output-mib", "1", max_workers=2)
    figures = ended_output(srv, budget=2**20, workers=8, lines=2000, width=200)
    assert figures["oldest_dropped_lines"] == 2000, figures  # the oldest lost all its lines


def _changes(first: int, last: int) -> dict:
    return {"from": first - 1, "to": last, "ops": [{"seq": seq} for seq in range(first, last + 1)]}


def test_a_snapshot_built_a_moment_ago_is_sent_with_exactly_the_changes_broadcast_since():
    """What a client is sent after a snapshot of version V: the ops after V that were already
    broadcast (none if V is current or newer), or None when they are no longer kept."""
    history = ChangeHistory(max_ops=10)
    assert history.since(0) == {}  # nothing broadcast yet
    for first, last in [(1, 4), (5, 8), (9, 12)]:
        history.add(_changes(first, last))
    assert history.since(12) == {} and history.since(15) == {}
    caught_up = history.since(6)
    assert (caught_up["from"], caught_up["to"]) == (6, 12)
    assert [op["seq"] for op in caught_up["ops"]] == list(range(7, 13))
    assert history.since(2) is None  # 1-4 were dropped to keep at most 10 ops


@pytest.mark.parametrize("size", [0, 125, 126, 65_535, 65_536, 5 * 2**20])
def test_a_frame_written_directly_is_byte_for_byte_the_one_wsproto_writes(size):
    """Big messages skip wsproto's copies (DirectFrameWebSocket): the frame they get must be
    the one wsproto would have written, its length in the fewest bytes (Chromium refuses a
    connection otherwise)."""
    text = ("0123456789" * (size // 10 + 1))[:size]
    expected = FrameProtocol(client=False, extensions=[]).send_data(text)
    assert frame_header(0x1, size) + text.encode() == bytes(expected)
