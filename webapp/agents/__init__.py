"""The dashboard's end of the agent channel: the private directory, the listener, the hub that routes."""
