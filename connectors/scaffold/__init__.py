"""`kanal connector new`: generate a channel plugin package that installs and passes its own tests."""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

TEMPLATE = Path(__file__).with_name("template")
NAME = re.compile(r"^[a-z][a-z0-9_]{1,30}$")


def scaffold(name: str, target: Path) -> Path:
    """Write the plugin package for channel `name` into `target` (which must not exist yet)."""
    if not NAME.match(name):
        raise ValueError(f"channel id {name!r}: use 2-31 lowercase letters, digits or '_', starting with a letter")
    if target.exists():
        raise ValueError(f"{target} already exists; choose another --dir")
    values = {"name": name, "package": f"kanal_{name}", "dist": f"kanal-{name.replace('_', '-')}",
              "title": name.replace("_", " ").title(),
              "cls": name.replace("_", " ").title().replace(" ", "") + "Connector"}
    for source in sorted(TEMPLATE.rglob("*")):
        if source.is_dir() or source.name == "__pycache__" or source.suffix == ".pyc":
            continue
        relative = source.relative_to(TEMPLATE)
        parts = [values["package"] if part == "pkg" else part for part in relative.parts]
        destination = target.joinpath(*parts)
        if destination.suffix == ".tmpl":
            destination = destination.with_suffix("")
        destination.parent.mkdir(parents=True, exist_ok=True)
        text = source.read_text(encoding="utf-8")
        destination.write_text(Template(text).substitute(values) if source.suffix == ".tmpl" else text,
                               encoding="utf-8")
    return target
