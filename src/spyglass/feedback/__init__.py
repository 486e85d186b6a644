"""Feedback from users, answered by admins."""
