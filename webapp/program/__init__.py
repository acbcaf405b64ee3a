"""``mpscope run``: watch the user's own program (its processes, output, stacks and Pool tasks)."""
