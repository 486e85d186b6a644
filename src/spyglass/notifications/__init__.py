"""Notifications: per-user channels (email, Apprise), the outbox and its dispatcher, templates, admin alerts."""
