"""Feeds: what the swipe player shows next (For You, Following, a profile's videos)."""
