"""Once-only profiles: every agency's records joined to one registry identity, and the
consistency report."""
