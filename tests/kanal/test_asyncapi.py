"""The AsyncAPI document of Kanal's subjects stays in step with the code."""

from __future__ import annotations

from pathlib import Path

from kanal.config import load


def test_committed_asyncapi_document_is_current() -> None:
    """docs/asyncapi.json is what `kanal schema asyncapi` prints; regenerate it when the contract changes."""
    import json

    from kanal import asyncapi

    committed = json.loads((Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json").read_text())
    generated = asyncapi.document(load(env={}))
    assert committed == json.loads(json.dumps(generated)), "run: kanal schema asyncapi > docs/asyncapi.json"
    assert committed["components"]["messages"]["kanal.admin (notifier):SubscribeMessage"]["payload"] == {
        "$ref": "#/components/schemas/RoutedItem"}


def test_descriptions_do_not_depend_on_how_a_library_indents_docstrings() -> None:
    """msgspec 0.22 kept a docstring's indentation in `description`, 0.23 strips it: both give one document."""
    from kanal.asyncapi import _clean_descriptions

    kept = {"Envelope": {"description": "One message.\n\n    Second line,\n        indented.",
                         "properties": {"a": {"description": "  x"}}}}
    stripped = {"Envelope": {"description": "One message.\n\nSecond line,\n    indented.",
                             "properties": {"a": {"description": "x"}}}}
    assert _clean_descriptions(kept) == _clean_descriptions(stripped) == stripped
