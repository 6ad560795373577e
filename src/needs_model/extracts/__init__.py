"""The data contract agencies write in, its validation, and point-in-time reads."""
