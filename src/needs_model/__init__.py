"""Needs: predicts which citizens will soon need each proactive public service."""

__version__ = "0.1.0"
