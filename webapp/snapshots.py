"""SnapshotCache: the shared state encoded as JSON once per version, for every client that needs it.

A snapshot of a big state is costly: encoding 3,000 dict entries or a 500,000-item list
takes tens to hundreds of milliseconds, and a client flooding ``resync`` used to have it
built again per request, inside the lock every push waits for. Here it is built at most
once per mirror version (concurrent callers wait for the one build in progress and share
it), outside any lock a push needs, and kept as JSON text that Socket.IO sends as it is.

``ChangeHistory`` keeps the last ``changes`` sent, so that a snapshot built a moment ago
can be sent with the changes broadcast since it was built, instead of being rebuilt.
"""

from __future__ import annotations

import collections
import json
import threading
from dataclasses import dataclass
from typing import Any

from . import rawjson
from .mirror import SharedStateMirror
from .rawjson import RawJSON


@dataclass(frozen=True)
class EncodedSnapshot:
    """The mirror's part of a snapshot at ``version``, as JSON text (an object)."""

    version: int
    generation: int
    text: str

    def with_fields(self, fields: dict[str, Any]) -> RawJSON:
        """The snapshot with ``fields`` (read at send time: workers, output, ...) added."""
        extra = json.dumps(fields, separators=(",", ":"))
        return RawJSON(self.text[:-1] + "," + extra[1:] if fields else self.text)


class SnapshotCache:
    """Builds the mirror's snapshot once per version; ``invalidate`` after the mirror is reloaded."""

    def __init__(self, mirror: SharedStateMirror) -> None:
        self.mirror = mirror
        self.build_lock = threading.Lock()  # one build at a time; pushes never wait for it
        self.generation = 0
        self.latest: EncodedSnapshot | None = None

    def get(self) -> EncodedSnapshot:
        """The snapshot of the mirror's current version, built now only if not built yet."""
        with self.build_lock:
            mirror, generation = self.mirror, self.generation
            latest = self.latest
            if latest is not None and latest.version == mirror.version and latest.generation == generation:
                return latest
            # the mirror keeps each object's JSON text: this joins it (the named locks are
            # sent at send time instead, with their holders' liveness: snapshot_fields)
            snap = {k: v for k, v in mirror.snapshot_parts().items() if k != "locks"}
            text = rawjson.dumps(snap, separators=(",", ":"))
            # the generation read before the build: one reloaded meanwhile makes this stale
            self.latest = EncodedSnapshot(snap["version"], generation, text)
            return self.latest

    def invalidate(self) -> None:
        """The mirror was replaced wholesale (same version, other contents): build anew."""
        self.generation += 1

    def is_current(self, snap: EncodedSnapshot) -> bool:
        return snap.generation == self.generation


class ChangeHistory:
    """The ``changes`` payloads sent last, up to ``max_ops`` operations in all."""

    def __init__(self, max_ops: int = 50_000) -> None:
        self.max_ops = max_ops
        self.payloads: collections.deque[dict] = collections.deque()
        self.ops = 0
        self.sent_version: int | None = None  # the version clients hold after the last one

    def add(self, payload: dict) -> None:
        self.payloads.append(payload)
        self.ops += len(payload["ops"])
        self.sent_version = payload["to"]
        while self.ops > self.max_ops and len(self.payloads) > 1:
            self.ops -= len(self.payloads.popleft()["ops"])

    def clear(self) -> None:
        self.payloads.clear()
        self.ops = 0
        self.sent_version = None

    def since(self, version: int) -> dict | None:
        """The changes sent after ``version`` as one payload; ``{}`` if none; None if not kept."""
        if self.sent_version is None or version >= self.sent_version:
            return {}
        if not self.payloads or self.payloads[0]["from"] > version:
            return None
        ops = [op for p in self.payloads if p["to"] > version for op in p["ops"] if op["seq"] > version]
        return {"from": version, "to": self.sent_version, "ops": ops}
