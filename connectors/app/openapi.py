"""The app API's OpenAPI 3.1 document: served at /api/v1/openapi.json and committed as docs/openapi/app.json.

Regenerate the committed copy after a change: `python -m connectors.app.openapi > docs/openapi/app.json`.
"""

from __future__ import annotations

import json
from typing import Any

_ERRORS = {
    "type": "object",
    "required": ["errors"],
    "properties": {"errors": {"type": "object", "additionalProperties": {"type": "string"},
                              "description": "field name -> what to change (`_request` for the whole request)"}},
    "example": {"errors": {"photos": "photo 1 (IMG_0412.jpg) was taken at 2026-11-24 08:12 WIB, 3 h 5 min before "
                                     "this report; photos must be taken within 2 hours of reporting: take a new "
                                     "photo of the problem"}},
}
_ACCEPTED = {
    "type": "object",
    "required": ["ref", "status_url"],
    "properties": {
        "ref": {"type": "string", "pattern": "^KNL-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$",
                "description": "the report reference to show the citizen"},
        "status_url": {"type": "string", "format": "uri", "description": "GET it for the current stage"},
    },
}
_STAGE = {"type": "string", "enum": ["menunggu", "koordinasi", "disposisi", "proses", "tindak_lanjut", "validasi",
                                     "selesai"]}
_STATUS = {
    "type": "object",
    "description": "Any channel's report by its reference. Never the reporter; the text only of a public report "
                   "that is not anonymous, with phone numbers, NIKs and e-mail addresses masked.",
    "required": ["ref", "stage", "label", "colour", "updated_at", "routed_at", "channel", "text", "history"],
    "properties": {
        "ref": {"type": "string"},
        "stage": _STAGE,
        "label": {"type": "string", "example": "Menunggu"},
        "colour": {"type": "string", "example": "#d32f2f"},
        "updated_at": {"type": "string", "format": "date-time"},
        "routed_at": {"type": "string", "format": "date-time", "description": "when Kanal routed the report"},
        "channel": {"type": "string", "example": "telegram", "description": "the channel it was sent on"},
        "text": {"type": ["string", "null"], "description": "null for a private or anonymous report"},
        "history": {"type": "array", "description": "each stage reached, oldest first", "items": {
            "type": "object", "required": ["stage", "label", "at"],
            "properties": {"stage": _STAGE, "label": {"type": "string"},
                           "at": {"type": "string", "format": "date-time"}}}},
    },
}
_FORM = {
    "type": "object",
    "required": ["photos", "description"],
    "properties": {
        "photos": {"type": "array", "items": {"type": "string", "format": "binary"}, "minItems": 1,
                   "description": "JPEG, PNG or WebP (HEIC when the server supports it); content is checked, "
                                  "not the declared type. A photo whose EXIF DateTimeOriginal is older than "
                                  "max_photo_age (2 hours) is refused."},
        "description": {"type": "string", "maxLength": 4000},
        "category": {"type": "string"},
        "visibility": {"type": "string", "enum": ["private", "public"], "default": "private",
                       "description": "public reports are stored without EXIF GPS in their photos"},
        "anonymous": {"type": "boolean", "default": False,
                      "description": "carried to the admins, who hide the reporter"},
        "lat": {"type": "number", "minimum": -90, "maximum": 90,
                "description": "device position; without lat/lon the first photo's EXIF GPS is used"},
        "lon": {"type": "number", "minimum": -180, "maximum": 180},
        "accuracy_m": {"type": "number", "minimum": 0},
        "address": {"type": "string", "maxLength": 500, "description": "address detail (RT/RW, landmark)"},
        "name": {"type": "string"},
        "phone": {"type": "string", "example": "081234567890"},
        "email": {"type": "string", "format": "email"},
        "nik": {"type": "string", "pattern": "^[0-9]{16}$"},
        "user_id": {"type": "string", "description": "the app's own account id of the reporter"},
    },
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def document() -> dict[str, Any]:
    """The OpenAPI document as a dict."""
    error = {"content": _json({"$ref": "#/components/schemas/Errors"})}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Kanal citizen app API", "version": "1",
                 "description": "Geotagged photo reports from a citizen app (JAKI-style) into Kanal's intake."},
        "paths": {
            "/api/v1/reports": {"post": {
                "operationId": "submitReport",
                "summary": "Submit a report with one or more photos",
                "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{8,128}$"},
                                "description": "send a UUID per report; a retry with the same key gets the same "
                                               "reference and is not published twice"}],
                "requestBody": {"required": True, "content": {"multipart/form-data": {
                    "schema": {"$ref": "#/components/schemas/ReportForm"},
                    "encoding": {"photos": {"contentType": "image/jpeg, image/png, image/webp, image/heic"}}}}},
                "responses": {
                    "201": {"description": "accepted", "content": _json({"$ref": "#/components/schemas/Accepted"})},
                    "200": {"description": "a retry of an accepted report (same Idempotency-Key)",
                            "content": _json({"$ref": "#/components/schemas/Accepted"})},
                    "413": {"description": "request or a photo too large", **error},
                    "415": {"description": "not multipart/form-data", **error},
                    "422": {"description": "a field or photo is not acceptable", **error},
                    "503": {"description": "temporarily unavailable: retry with the same Idempotency-Key", **error},
                },
            }},
            "/api/v1/reports/{ref}": {"get": {
                "operationId": "reportStatus",
                "summary": "A report's current stage and its history, for a reference from any channel",
                "parameters": [{"name": "ref", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "current stage", "content": _json({"$ref": "#/components/schemas/Status"})},
                    "404": {"description": "not a reference, or not (yet) routed", **error},
                    "503": {"description": "temporarily unavailable: retry later", **error},
                },
            }},
        },
        "components": {"schemas": {"ReportForm": _FORM, "Accepted": _ACCEPTED, "Status": _STATUS,
                                   "Errors": _ERRORS}},
    }


def render() -> str:
    """The committed file's exact text."""
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
