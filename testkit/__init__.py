"""The one test harness: live servers, a Socket.IO client, a Chromium launcher and waiting.

Tests, benchmarks, chaos runs and tools all start mpscope, watch it and stop it through
these modules, so a fix to how a server is started or checked lands everywhere at once.
"""
