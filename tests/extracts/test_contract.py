from pathlib import Path

from needs_model.extracts.contract import TABLES, render_markdown


def test_every_table_has_recorded_at_and_its_key():
    for t in TABLES:
        names = [c.name for c in t.columns]
        assert "recorded_at" in names, t.path
        assert t.key in names, t.path
        assert len(names) == len(set(names)), t.path


def test_sensitive_attributes_are_marked_for_audits_only():
    people = next(t for t in TABLES if t.path == "registry/people.parquet")
    for name in ("ethnicity", "religion"):
        assert "never a model input" in people.column(name).description


def test_committed_docs_are_generated_from_the_contract():
    committed = Path(__file__).parents[2] / "docs" / "data-contract.md"
    assert committed.read_text(encoding="utf-8") == render_markdown()
