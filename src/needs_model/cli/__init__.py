"""The `needs-model` command line."""
