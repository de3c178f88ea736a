"""A refusal's reason that reads as English text (CLI, logs) and can be shown in the admin's language.

`Reason("the item is already at %(stage)s", stage="Proses")` is the string "the item is already at Proses"
wherever a str is expected; the console shows `gettext(template) % values` instead. The template is the
msgid: `make messages` extracts every `Reason("...")` into the catalogue.
"""

from __future__ import annotations

from typing import Any


class Reason(str):
    """English text of a refusal, with its msgid and values kept for translation."""

    template: str
    values: dict[str, Any]

    def __new__(cls, template: str, **values: Any) -> Reason:
        self = super().__new__(cls, template % values if values else template)
        self.template = template
        self.values = values
        return self
