"""`python -m needs_model.cli`."""

from needs_model.cli.main import app

app()
