"""AsyncAPI 3.0 for Kanal's subjects: FastStream's document of the notifier's operations, with the contract's payloads.

The notifier's app (notifier/service.py) and this document are both made from schemas/operations.py, so this
module does not import the notifier. FastStream describes the subjects; the payload schemas are filled in here
from the msgspec Structs of `schemas/` (FastStream's own generator reads pydantic models, not Structs).
"""

from __future__ import annotations

import inspect
import json
from typing import Any

import msgspec
from faststream.nats import NatsBroker
from faststream.specification import AsyncAPI

from kanal.config import Config, NatsSettings
from schemas import operations

PAYLOADS: dict[str, type[msgspec.Struct]] = {op.subject: op.payload for op in operations.NOTIFIER}


def _broker(settings: NatsSettings) -> NatsBroker:
    """A FastStream broker that declares the notifier's operations (never connected: a description only)."""
    broker = NatsBroker(settings.url)
    for op in operations.NOTIFIER:
        if op.action == "send":
            broker.publisher(op.subject, title=op.title, description=op.description)
            continue

        async def described(body: bytes) -> None:
            """Never called: the notifier's handler for this subject is in notifier/service.py."""

        broker.subscriber(op.subject, stream=op.stream, durable=op.durable, pull_sub=True, title=op.title,
                          description=op.description)(described)
    return broker


def document(config: Config, server: str = "nats://localhost:4222") -> dict[str, Any]:
    """The AsyncAPI document as a dict; `server` is only the example address it names. The document is the same
    for every deployment: `config` (the CLI's `--config`) changes nothing in it."""
    broker = _broker(NatsSettings(url=server))
    spec: dict[str, Any] = json.loads(
        AsyncAPI(broker, title="Kanal", version="1", schema_version="3.0.0",
                 description="Subjects between Kanal's connectors, router, notifier and admins. "
                             "Payloads are UTF-8 JSON; see docs/contract.md.").to_specification().to_json()
    )
    _, schemas = msgspec.json.schema_components(list(PAYLOADS.values()),
                                                ref_template="#/components/schemas/{name}")
    spec.setdefault("components", {}).setdefault("schemas", {}).update(_clean_descriptions(schemas))
    messages = spec["components"].setdefault("messages", {})
    for channel in spec.get("channels", {}).values():
        payload = PAYLOADS.get(channel["address"])
        if payload is None:
            continue
        for ref in channel.get("messages", {}).values():
            name = ref["$ref"].rsplit("/", 1)[-1].replace("%20", " ").replace("%28", "(").replace("%29", ")")
            if name in messages:
                messages[name]["payload"] = {"$ref": f"#/components/schemas/{payload.__name__}"}
    for unused in [k for k in spec["components"]["schemas"] if k == "EmptyPayload" or k.endswith(":Payload")]:
        del spec["components"]["schemas"][unused]
    return spec


def _clean_descriptions(node: Any) -> Any:
    """Docstrings as `inspect.cleandoc` reads them: the document must not change with a library's formatting.

    msgspec copies each Struct's docstring into its schema's `description`; releases differ on whether the
    indentation is kept (0.23 strips it), so every description is normalised here.
    """
    if isinstance(node, dict):
        return {key: inspect.cleandoc(value) if key == "description" and isinstance(value, str)
                else _clean_descriptions(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_clean_descriptions(item) for item in node]
    return node
