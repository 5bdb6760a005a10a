"""Agents: the AI agent, its knowledge base, conversations and AI turns, the AI runtime and the widget API."""
