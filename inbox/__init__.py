"""Inbox: tickets and custom inboxes, the staff web inbox, live events over Channels, notifications and AI summaries."""
