"""Notifications: grouped, translated, counted unread, and pushed to open pages in real time."""
