"""The service's own state: keys and access, the audit log, outcomes, and their database."""
