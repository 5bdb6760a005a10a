"""Escalation: per-agent settings, the pure decision engine, and the handoff service that makes tickets."""
