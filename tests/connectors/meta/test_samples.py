"""The shared real-world samples (../shared/samples/meta, whatsapp-cloud) through the pure normaliser."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.errors import BadPayload
from connectors.meta.normalise import normalise
from connectors.meta.signature import problem, sign
from connectors.spec import NormaliseContext, Outcome
from tests.conftest import shared_path

CTX = NormaliseContext(channel="meta", instance="samples", account="*",
                       received_at=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))


def run(*parts: str, account: str = "*") -> Outcome:
    return normalise(shared_path("samples", *parts).read_bytes(),
                     NormaliseContext(channel="meta", instance="samples", account=account,
                                      received_at=CTX.received_at))


def wrap_page(event: dict[str, Any], page: str) -> bytes:
    return json.dumps({"object": "page", "entry": [{"id": page, "time": 1491797604500, "messaging": [event]}]}).encode()


# file -> (envelopes, ignored reasons, rejected reasons, first envelope's (kind, account, text))
WHATSAPP = {
    "whatsapp_cloud_text_pywa.json": (1, [], [], ("direct_message", "1122334455667", "Body Text")),
    "whatsapp_cloud_image_pywa.json": (1, [], [], ("direct_message", "1122334455667", "")),
    "whatsapp_cloud_image_with_url_pywa.json": (1, [], [], ("direct_message", "1122334455667", "")),
    "whatsapp_cloud_location_named_place_pywa.json": (1, [], [], ("direct_message", "1122334455667", "")),
    "whatsapp_cloud_location_shared_pin_forwarded_pywa.json": (1, [], [], ("direct_message", "1122334455667", "")),
    "whatsapp_cloud_reply_context_pywa.json": (1, [], [], ("direct_message", "1122334455667", "replied text")),
    "whatsapp_cloud_status_sent_pywa.json": (0, ["status"], [], None),
    "whatsapp_cloud_status_failed_pywa.json": (0, ["status"], [], None),
    "whatsapp_cloud_unsupported_type_errors_pywa.json": (0, [], ["unsupported_message"], None),
    "whatsapp_cloud_signed_text.raw_body.json": (1, [], [], ("direct_message", "277321005464405",
                                                             "Hey there! I am using PyWa.")),
}


@pytest.mark.parametrize("name", sorted(WHATSAPP))
def test_whatsapp_samples(name: str) -> None:
    count, ignored, rejected, first = WHATSAPP[name]
    outcome = run("whatsapp-cloud", name)
    assert len(outcome.envelopes) == count
    assert [i.reason for i in outcome.ignored] == ignored
    assert [r.reason for r in outcome.rejected] == rejected
    if first is not None:
        envelope = outcome.envelopes[0]
        assert (envelope.kind, envelope.account, envelope.text) == first
        assert envelope.visibility == "private" and envelope.reporter.display_name
        assert envelope.reporter.contact or envelope.reporter.user_id


def test_whatsapp_details() -> None:
    image = run("whatsapp-cloud", "whatsapp_cloud_image_pywa.json").envelopes[0].attachments[0]
    assert (image.kind, image.media_type, image.source_url) == ("image", "image/jpeg", "whatsapp-media:65463453")
    with_url = run("whatsapp-cloud", "whatsapp_cloud_image_with_url_pywa.json").envelopes[0].attachments[0]
    assert with_url.source_url == "whatsapp-media:65463453", "the id is preferred: the lookaside URL expires"
    place = run("whatsapp-cloud", "whatsapp_cloud_location_named_place_pywa.json").envelopes[0]
    assert place.location is not None and (place.location.lat, place.location.lon) == (37.4611978, -122.2164385)
    assert place.location.address and place.location.address.startswith("Facebook HQ")
    assert "forwarded" in place.flags
    reply = run("whatsapp-cloud", "whatsapp_cloud_reply_context_pywa.json").envelopes[0]
    assert reply.thread is not None and reply.thread.reply_to == "wamid.xyzxyz=="
    text = run("whatsapp-cloud", "whatsapp_cloud_text_pywa.json").envelopes[0]
    # "972987654321" is WhatsApp's id for the sender but no valid number (Israel has no 9-digit 09 numbers):
    # not called a phone number; the sender is known by the business-scoped user id the payload gives.
    assert text.reporter.contact is None and text.reporter.user_id == "US.13491208655302741918"
    assert text.created_at == datetime.fromtimestamp(1697043223, UTC)
    rejected = run("whatsapp-cloud", "whatsapp_cloud_unsupported_type_errors_pywa.json").rejected[0]
    assert "131051" in rejected.detail and b"wamid.xyzxyz" in rejected.data


def test_whatsapp_other_number_is_unknown_account() -> None:
    outcome = run("whatsapp-cloud", "whatsapp_cloud_text_pywa.json", account="106540352242922")
    assert outcome.envelopes == () and [i.reason for i in outcome.ignored] == ["unknown_account"]


def test_signature_vectors() -> None:
    vector = json.loads(shared_path("samples", "whatsapp-cloud",
                                    "whatsapp_cloud_signed_text.signature_vector.json").read_text())
    body = shared_path("samples", "whatsapp-cloud", "whatsapp_cloud_signed_text.raw_body.json").read_bytes()
    assert sign(vector["app_secret"], body) == vector["x_hub_signature_256"]
    assert problem(vector["app_secret"], body, vector["x_hub_signature_256"]) is None
    assert problem(vector["app_secret"], body + b" ", vector["x_hub_signature_256"]) == "bad_signature"
    assert problem("FAKE_SECRET", b"{}", "sha256=448df8785dd36742e43fa3cad9de2eca8ceb6391e79c742e33e52c6637f32dac") \
        is None
    assert problem("FAKE_SECRET", b"{}", "sha1=1c99183cb7c44ea27fb834746086b65b89800db8") == "malformed_signature"


def test_messenger_batch_same_page() -> None:
    outcome = run("meta", "meta_messenger_text_batch_same_page_bottender.json")
    assert [(e.external_id, e.text, e.account) for e in outcome.envelopes] == [
        ("mid.1486464322190:cb04e5a654", "test 1", "1895382890692545"),
        ("mid.1486464322190:cb04e5a656", "test 2", "1895382890692545")]
    assert len({e.id for e in outcome.envelopes}) == 2


def test_messenger_attachment_events() -> None:
    for name, kind in (("meta_messenger_image_attachment_event_bottender.json", "image"),
                       ("meta_messenger_fallback_attachment_event_bottender.json", "other")):
        event = json.loads(shared_path("samples", "meta", name).read_text())
        [envelope] = normalise(wrap_page(event, "404217156637689"), CTX).envelopes
        assert envelope.attachments[0].kind == kind
    fallback = json.loads(shared_path("samples", "meta",
                                      "meta_messenger_fallback_attachment_event_bottender.json").read_text())
    [envelope] = normalise(wrap_page(fallback, "404217156637689"), CTX).envelopes
    assert (envelope.attachments[0].name, envelope.attachments[0].source_url) == (
        "TITLE_OF_THE_URL_ATTACHMENT", "URL_OF_THE_ATTACHMENT")


def test_feed_comments_for_two_pages() -> None:
    outcome = run("meta", "meta_page_feed_comment_add_two_pages_bottender.json", account="<PAGE_ID>")
    assert [e.account for e in outcome.envelopes] == ["<PAGE_ID>"]
    assert [i.reason for i in outcome.ignored] == ["unknown_account"]
    comment = outcome.envelopes[0]
    assert comment.kind == "comment" and comment.visibility == "public"
    assert comment.thread is not None and comment.thread.reply_to == "139560936744456_139562213411528"


FEED = {
    "comment_add_reply": ("comment", []), "comment_add_on_video_with_post_object": ("comment", []),
    "status_add": ("post", []), "comment_edited": (None, ["edit"]),
    "comment_remove_no_message_no_name": (None, ["removed"]), "reaction_add_on_comment": (None, ["reaction"]),
    "post_remove": (None, ["removed"]),
}


def test_feed_change_elements() -> None:
    elements = json.loads(shared_path("samples", "meta", "meta_page_feed_changes_elements_bottender.json").read_text())
    for name, (kind, ignored) in FEED.items():
        body = json.dumps({"object": "page", "entry": [{"id": "137542570280222", "time": 1,
                                                        "changes": [elements[name]]}]}).encode()
        outcome = normalise(body, CTX)
        assert [e.kind for e in outcome.envelopes] == ([kind] if kind else []), name
        assert [i.reason for i in outcome.ignored] == ignored, name


def test_not_json_is_bad_payload() -> None:
    with pytest.raises(BadPayload, match="malformed_json"):
        normalise(b"\xff\xfe not json", CTX)
