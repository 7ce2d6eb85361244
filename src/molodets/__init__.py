"""Molodets: a short vertical video platform."""

__version__ = "0.1.0"
