"""mpscope's benchmark suite: ``python -m benchmarks [--quick] [--soak]`` (``make bench``).

Every figure is measured side by side with a baseline in the same run and reported as
a ratio as well as a time. Kept import-free: worker processes import ``benchmarks.plain``.
"""
