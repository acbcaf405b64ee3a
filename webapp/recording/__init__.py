"""Recordings: everything a dashboard knows, as it happens, in one SQLite file (docs/recording.md).

``writer`` (the :class:`Recorder` a dashboard started with ``--record`` feeds from its
broadcasts), ``reader`` (a recording's state at any moment), ``export`` (Chrome trace
events for Perfetto) and ``replay`` (the back end of ``mpscope open``).
"""

from .writer import FORMAT, Recorder, RecordingRefused

__all__ = ["FORMAT", "Recorder", "RecordingRefused"]
