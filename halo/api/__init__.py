"""The server API's shared parts: workspace-key authentication, permissions, throttling, error shape."""
