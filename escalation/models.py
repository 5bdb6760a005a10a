"""Models of the escalation app."""
