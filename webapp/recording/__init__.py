"""Recordings: everything a dashboard knows, as it happens, in one SQLite file (docs/recording.md).

``writer`` (the :class:`Recorder` a dashboard started with ``--record`` feeds from its
broadcasts), ``reader`` (a recording's state at any moment) and ``export`` (Chrome trace
events for Perfetto). The back end of ``mpscope open`` that replays one stands beside the
other back ends, in ``webapp/replay.py``.
"""

from .writer import FORMAT, Recorder, RecordingRefused

__all__ = ["FORMAT", "Recorder", "RecordingRefused"]
