"""make chaos: the long fault-injection run (python -m chaos.run); see docs/reliability.md."""
