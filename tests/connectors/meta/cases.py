"""Table of Meta payloads (own fixtures in the real shapes) and what each must become."""

from __future__ import annotations

from collections.abc import Callable

from connectors.spec import Outcome
from connectors.testkit import Case
from tests.connectors.meta import bodies as b
from tests.connectors.meta.bodies import BSUID, IG, OTHER_PAGE, PAGE, PHONE, TEXT_ID

ACCOUNTS = ",".join([PAGE, IG, PHONE])
CDN_JPEG = "https://scontent.xx.fbcdn.net/v/t1.15752-9/467580915_n.jpg?_nc_cat=1&oh=00_AYB&oe=6765A1B2"


def expect(**wanted: object) -> Callable[[Outcome], None]:
    """A check that the first envelope has these attribute values (dotted paths allowed)."""

    def check(outcome: Outcome) -> None:
        envelope = outcome.envelopes[0]
        for path, value in wanted.items():
            got: object = envelope
            for part in path.split("__"):
                got = getattr(got, part)
            assert got == value, f"{path}: {got!r} != {value!r}"

    return check


def reasons(*wanted: str) -> Callable[[Outcome], None]:
    def check(outcome: Outcome) -> None:
        got = [i.reason for i in outcome.ignored] + [r.reason for r in outcome.rejected]
        assert got == list(wanted), got

    return check


MESSENGER = [
    Case("messenger_text_indonesian_emoji", b.page(b.messenger("m_AG5Hz2Uq7tuwNEhXfYYKj8", TEXT_ID)), ACCOUNTS,
         count=1, check=expect(text=TEXT_ID, kind="direct_message", visibility="private", account=PAGE,
                               reporter__user_id=b.PSID, flags=("facebook",))),
    Case("messenger_image", b.page(b.messenger("m_img1", attachments=[
        {"type": "image", "payload": {"url": CDN_JPEG}}])), ACCOUNTS, count=1,
         check=lambda o: _attachment(o, "image", CDN_JPEG)),
    Case("messenger_location", b.page(b.messenger("m_loc1", attachments=[
        {"title": "Monas", "url": "https://l.facebook.com/l.php?u=https%3A%2F%2Fwww.bing.com%2Fmaps",
         "type": "location", "payload": {"coordinates": {"lat": -6.175392, "long": 106.827153}}}])), ACCOUNTS,
         count=1, check=expect(location__lat=-6.175392, location__lon=106.827153, location__address="Monas")),
    Case("messenger_reply", b.page(b.messenger("m_r2", "Masih belum diperbaiki", reply_to={"mid": "m_r1"})),
         ACCOUNTS, count=1, check=expect(thread__reply_to="m_r1")),
    Case("messenger_echo_ignored", b.page(b.messenger("m_echo", "Terima kasih, laporan diterima", is_echo=True,
                                                      app_id=1517776481860111, sender=PAGE, recipient=b.PSID)),
         ACCOUNTS, expect="ignored", count=1, check=reasons("echo")),
    Case("messenger_receipts_ignored", b.page(b.receipt("delivery"), b.receipt("read")),
         ACCOUNTS, expect="ignored", count=2, check=reasons("delivery_receipt", "read_receipt")),
    Case("messenger_reaction_points_at_its_message", b.page(b.reaction("m_1457764197618", emoji="👍",
                                                                       reaction="like")), ACCOUNTS, count=1,
         check=expect(text="👍", thread__reply_to="m_1457764197618", reporter__user_id=b.PSID,
                      flags=("facebook", "reaction"),
                      external_id=f"reaction:{b.PSID}:m_1457764197618:1732418399912")),
    Case("messenger_reaction_by_name_only", b.page(b.reaction("m_1457764197618", reaction="love")), ACCOUNTS,
         count=1, check=expect(text="❤️")),
    Case("messenger_unreact_ignored", b.page(b.reaction("m_1457764197618", action="unreact", reaction="like")),
         ACCOUNTS, expect="ignored", count=1, check=reasons("reaction_removed")),
    Case("messenger_postback_is_the_choice", b.page({
        "sender": {"id": b.PSID}, "recipient": {"id": PAGE}, "timestamp": 1732418399950,
        "postback": {"title": "Jalan rusak", "payload": "KATEGORI_JALAN", "mid": "m_pb_0001"}}), ACCOUNTS,
         count=1, check=expect(text="Jalan rusak", external_id="m_pb_0001",
                               flags=("facebook", "interactive_reply"))),
    Case("messenger_sender_not_a_scoped_id_rejected", b.page(b.messenger("m_bad1", "halo", sender="bla")),
         ACCOUNTS, expect="rejected", count=1, check=reasons("invalid_sender")),
    Case("messenger_timestamp_not_a_time_rejected", b.page(
        {**b.messenger("m_bad2", "Lampu mati"), "timestamp": "asdf"}, b.messenger("m_ok3", "Got mampet")),
         ACCOUNTS, count=1, check=lambda o: (reasons("invalid_timestamp")(o), _one_text(o, "Got mampet"))),
    Case("messenger_other_page_ignored", b.page(b.messenger("m_x", "halo", recipient=OTHER_PAGE),
                                                page_id=OTHER_PAGE),
         ACCOUNTS, expect="ignored", count=1, check=reasons("unknown_account")),
    Case("messenger_unknown_event_ignored", b.page({"sender": {"id": b.PSID}, "recipient": {"id": PAGE},
                                                    "timestamp": 1, "brand_new_event": {"x": 1}}),
         ACCOUNTS, expect="ignored", count=1, check=reasons("unknown_event")),
]

FEED = [
    Case("feed_visitor_post", b.page(changes=[b.feed("status", post_id=f"{PAGE}_1029384756",
                                                     message="Banjir setinggi lutut di Kemang 🌧️",
                                                     published=1)]), ACCOUNTS, count=1,
         check=expect(kind="post", visibility="public", external_id=f"{PAGE}_1029384756",
                      reporter__display_name="Budi Santoso", text="Banjir setinggi lutut di Kemang 🌧️")),
    Case("feed_photo_post", b.page(changes=[b.feed("photo", post_id=f"{PAGE}_555", message="Sampah menumpuk",
                                                   link=CDN_JPEG, photo_id="555", photo=CDN_JPEG)]),
         ACCOUNTS, count=1, check=lambda o: _attachment(o, "image", CDN_JPEG)),
    Case("feed_comment", b.page(changes=[b.feed("comment", post_id=f"{PAGE}_777", comment_id="777_888",
                                                parent_id=f"{PAGE}_777", message="Lampu jalan mati pak")]),
         ACCOUNTS, count=1, check=expect(kind="comment", thread__reply_to=f"{PAGE}_777",
                                         thread__conversation=f"{PAGE}_777", external_id="777_888")),
    Case("feed_own_post_and_comment_ignored",
         b.page(changes=[b.feed("status", author=PAGE, name="Pemprov DKI", post_id=f"{PAGE}_1", message="Info"),
                         b.feed("comment", author=PAGE, name="Pemprov DKI", post_id=f"{PAGE}_1",
                                comment_id="1_2", message="Terima kasih")]),
         ACCOUNTS, expect="ignored", count=2, check=reasons("own_post", "own_comment")),
    Case("feed_edits_reactions_removes_ignored",
         b.page(changes=[b.feed("comment", "edited", post_id="1_1", comment_id="1_3", message="x"),
                         b.feed("reaction", post_id="1_1", reaction_type="like"),
                         b.feed("post", "remove", post_id="1_1")]),
         ACCOUNTS, expect="ignored", count=3, check=reasons("edit", "reaction", "removed")),
    Case("feed_created_time_not_a_time_rejected", b.page(changes=[
        b.feed("comment", post_id=f"{PAGE}_9", comment_id="9_1", message="x", created_time="kemarin")]), ACCOUNTS,
         expect="rejected", count=1, check=reasons("invalid_timestamp")),
    Case("feed_unknown_field_ignored", b.page(changes=[{"field": "ratings", "value": {"rating": 5}}]), ACCOUNTS,
         expect="ignored", count=1, check=reasons("unsupported_field")),
]

INSTAGRAM = [
    Case("instagram_dm", b.instagram(b.messenger("aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQx", "Tolong ada "
                                                 "pohon tumbang di Jl. Sudirman 🌳", sender=b.IGSID, recipient=IG)),
         ACCOUNTS, count=1, check=expect(kind="direct_message", account=IG, flags=("instagram",))),
    Case("instagram_comment", b.instagram(changes=[{"field": "comments", "value": {
        "from": {"id": b.IGSID, "username": "warga.jakarta"}, "media": {"id": "18002345678901234",
                                                                        "media_product_type": "FEED"},
        "id": "17865799348089039", "text": "@dkijakarta trotoar rusak di Cikini"}}]), ACCOUNTS, count=1,
         check=expect(kind="comment", visibility="public", reporter__handle="warga.jakarta",
                      thread__reply_to="18002345678901234")),
    Case("instagram_mention", b.instagram(changes=[{"field": "mentions", "value": {
        "media_id": "17918195224117851", "comment_id": "17894227972186120"}}]), ACCOUNTS, count=1,
         check=expect(kind="comment", flags=("instagram", "mention"))),
    Case("instagram_like_heart_is_a_heart", b.instagram(b.messenger(
        "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxheart", attachments=[{"type": "like_heart"}], sender=b.IGSID,
        recipient=IG)), ACCOUNTS, count=1, check=expect(text="❤️", flags=("instagram", "reaction"))),
    Case("instagram_reaction_points_at_its_message", b.instagram(b.reaction(
        "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQx", reaction="love", emoji="❤️", sender=b.IGSID,
        recipient=IG)), ACCOUNTS, count=1,
         check=expect(text="❤️", thread__reply_to="aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQx",
                      flags=("instagram", "reaction"))),
    Case("instagram_comment_author_not_a_scoped_id_rejected", b.instagram(changes=[{"field": "comments", "value": {
        "from": {"id": "warga.jakarta", "username": "warga.jakarta"}, "media": {"id": "1"}, "id": "3",
        "text": "Trotoar rusak"}}]), ACCOUNTS, expect="rejected", count=1, check=reasons("invalid_sender")),
    Case("instagram_own_comment_ignored", b.instagram(changes=[{"field": "comments", "value": {
        "from": {"id": IG, "username": "dkijakarta", "self_ig_scoped_id": "17841405822304914"},
        "media": {"id": "1"}, "id": "2", "text": "Terima kasih atas laporannya"}}]), ACCOUNTS,
         expect="ignored", count=1, check=reasons("own_comment")),
]

WHATSAPP = [
    Case("whatsapp_text", b.whatsapp(b.wa(b.wamid(1), "text", {"body": TEXT_ID})), ACCOUNTS, count=1,
         check=expect(text=TEXT_ID, account=PHONE, reporter__contact="+6281234567890",
                      reporter__display_name="Siti Rahayu", visibility="private")),
    Case("whatsapp_image_caption", b.whatsapp(b.wa(b.wamid(2), "image", {
        "caption": "Got mampet", "mime_type": "image/jpeg", "sha256": "k3WmH1s4xNq6nYt2cU8Jv9Qe0R5LzPaBdFgHiKoMn1s=",
        "id": "1479537139650973"})), ACCOUNTS, count=1,
         check=lambda o: _attachment(o, "image", "whatsapp-media:1479537139650973")),
    Case("whatsapp_document", b.whatsapp(b.wa(b.wamid(3), "document", {
        "filename": "laporan.pdf", "mime_type": "application/pdf", "sha256": "x", "id": "5381264351936272"})),
         ACCOUNTS, count=1, check=lambda o: _attachment(o, "document", "whatsapp-media:5381264351936272")),
    Case("whatsapp_audio_video_sticker", b.whatsapp(
        b.wa(b.wamid(4), "audio", {"mime_type": "audio/ogg; codecs=opus", "sha256": "x", "id": "71", "voice": True}),
        b.wa(b.wamid(5), "video", {"mime_type": "video/mp4", "sha256": "x", "id": "72"}),
        b.wa(b.wamid(6), "sticker", {"mime_type": "image/webp", "sha256": "x", "id": "73", "animated": False})),
         ACCOUNTS, count=3),
    Case("whatsapp_location_named", b.whatsapp(b.wa(b.wamid(7), "location", {
        "latitude": -6.2087634, "longitude": 106.845599, "name": "Bundaran HI",
        "address": "Jl. M.H. Thamrin, Jakarta Pusat"})), ACCOUNTS, count=1,
         check=expect(location__lat=-6.2087634, location__address="Bundaran HI, Jl. M.H. Thamrin, Jakarta Pusat")),
    Case("whatsapp_interactive_replies", b.whatsapp(
        b.wa(b.wamid(8), "interactive", {"type": "button_reply", "button_reply": {"id": "kat-jalan",
                                                                                  "title": "Jalan rusak"}},
             context={"from": "628111272206", "id": b.wamid(900)}),
        b.wa(b.wamid(9), "interactive", {"type": "list_reply", "list_reply": {
            "id": "wil-jaksel", "title": "Jakarta Selatan", "description": "Kec. Kebayoran Baru"}}),
        b.wa(b.wamid(10), "button", {"payload": "LAPOR", "text": "Lapor sekarang"})), ACCOUNTS, count=3,
         check=expect(text="Jalan rusak", thread__reply_to=b.wamid(900))),
    Case("whatsapp_statuses_ignored", b.whatsapp(statuses=[
        {"id": b.wamid(900), "status": "delivered", "timestamp": "1732418402", "recipient_id": b.WA_ID},
        {"id": b.wamid(900), "status": "read", "timestamp": "1732418403", "recipient_id": b.WA_ID}]),
         ACCOUNTS, expect="ignored", count=2, check=reasons("status", "status")),
    Case("whatsapp_unsupported_rejected", b.whatsapp(b.wa(b.wamid(11), "unsupported", errors=[{
        "code": 131051, "title": "Message type unknown", "message": "Message type unknown",
        "error_data": {"details": "Message type is currently not supported."}}])), ACCOUNTS,
         expect="rejected", count=1, check=reasons("unsupported_message")),
    Case("whatsapp_unknown_type_rejected", b.whatsapp(b.wa(b.wamid(12), "hologram", {"x": 1})), ACCOUNTS,
         expect="rejected", count=1, check=reasons("unsupported_message")),
    Case("whatsapp_voice_is_audio", b.whatsapp(b.wa(b.wamid(14), "voice", {
        "mime_type": "audio/ogg; codecs=opus", "sha256": "x", "id": "1312345678901234"})), ACCOUNTS, count=1,
         check=lambda o: _attachment(o, "audio", "whatsapp-media:1312345678901234")),
    Case("whatsapp_timestamp_not_seconds_rejected", b.whatsapp(
        b.wa(b.wamid(15), "text", {"body": "Jalan rusak"}, timestamp="asdf"),
        b.wa(b.wamid(16), "text", {"body": "Lampu mati"})), ACCOUNTS, expect="rejected", count=1,
         check=lambda o: (reasons("invalid_timestamp")(o), _one_text(o, "Lampu mati"))),
    Case("whatsapp_group_message_keeps_its_group", b.whatsapp(b.wa(b.wamid(17), "text", {"body": "Sampah di RW 03"},
                                                                group_id="Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ")),
         ACCOUNTS, count=1, check=expect(thread__conversation="group:Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ",
                                         flags=("whatsapp", "whatsapp_group"))),
    Case("whatsapp_username_user_without_phone_number", b.whatsapp(
        b.wa(b.wamid(40), "text", {"body": "Pohon tumbang di Jl. Cikini Raya"}, sender=None, from_user_id=BSUID),
        contacts=[{"profile": {"name": "Siti Rahayu", "username": "siti.jkt"}, "user_id": BSUID}]), ACCOUNTS,
         count=1, check=expect(reporter__contact=None, reporter__user_id=BSUID, reporter__handle="siti.jkt",
                               reporter__display_name="Siti Rahayu")),
    Case("whatsapp_phone_number_and_bsuid", b.whatsapp(
        b.wa(b.wamid(41), "text", {"body": "Lampu jalan mati"}, from_user_id=BSUID),
        contacts=[{"profile": {"name": "Siti Rahayu"}, "wa_id": b.WA_ID, "user_id": BSUID}]), ACCOUNTS, count=1,
         check=expect(reporter__contact="+6281234567890", reporter__user_id=BSUID)),
    Case("whatsapp_bsuid_in_from_is_not_a_phone_number", b.whatsapp(
        b.wa(b.wamid(42), "text", {"body": "Banjir"}, sender="US.1234"),
        contacts=[{"profile": {"name": "Test"}, "wa_id": "US.1234"}]), ACCOUNTS, count=1,
         check=expect(reporter__contact=None, reporter__user_id="US.1234")),
    Case("whatsapp_from_neither_phone_nor_bsuid_rejected", b.whatsapp(
        b.wa(b.wamid(43), "text", {"body": "x"}, sender="bla"), b.wa(b.wamid(44), "text", {"body": "Sampah"})),
         ACCOUNTS, count=1, check=lambda o: (reasons("invalid_sender")(o), _one_text(o, "Sampah"))),
    Case("whatsapp_without_any_sender_rejected", b.whatsapp(
        b.wa(b.wamid(45), "text", {"body": "x"}, sender=None), contacts=[{"profile": {"name": "Anon"}}]),
         ACCOUNTS, expect="rejected", count=1, check=reasons("missing_sender")),
    Case("whatsapp_flow_reply_fields_as_text", b.whatsapp(b.wa(b.wamid(46), "interactive", {
        "type": "nfm_reply", "nfm_reply": {"name": "flow", "body": "Sent", "response_json": (
            '{"flow_token":"KNL-8C3Q-W2ZP-4M7D","screen_0_Lokasi_0":"Jl. Salemba Raya 12",'
            '"screen_0_Kategori_1":"Jalan rusak","ada_foto":true}')}}, context={"from": "628111272206",
                                                                              "id": b.wamid(901)})),
         ACCOUNTS, count=1, check=expect(text="Lokasi: Jl. Salemba Raya 12\nKategori: Jalan rusak\nada foto: ya",
                                         flags=("whatsapp", "interactive_reply", "flow_reply"),
                                         thread__reply_to=b.wamid(901))),
    Case("whatsapp_flow_reply_not_json_kept_as_written", b.whatsapp(b.wa(b.wamid(47), "interactive", {
        "type": "nfm_reply", "nfm_reply": {"name": "flow", "body": "Sent", "response_json": "Got mampet"}})),
         ACCOUNTS, count=1, check=expect(text="Got mampet")),
    Case("whatsapp_reaction_points_at_its_message", b.whatsapp(b.wa(b.wamid(48), "reaction", {
        "message_id": b.wamid(900), "emoji": "👍"})), ACCOUNTS, count=1,
         check=expect(text="👍", thread__reply_to=b.wamid(900), flags=("whatsapp", "reaction"))),
    Case("whatsapp_reaction_removed_ignored", b.whatsapp(b.wa(b.wamid(49), "reaction", {
        "message_id": b.wamid(900)})), ACCOUNTS, expect="ignored", count=1, check=reasons("reaction_removed")),
    Case("whatsapp_shared_contact", b.whatsapp(b.wa(b.wamid(50), "contacts", [
        {"name": {"formatted_name": "Pak RT 05", "first_name": "Pak"}, "phones": [
            {"phone": "+62 812-1111-2222", "wa_id": "6281211112222", "type": "CELL"}]}])), ACCOUNTS, count=1,
         check=expect(text="Kontak: Pak RT 05 (+62 812-1111-2222)", flags=("whatsapp", "shared_contact"))),
    Case("whatsapp_order", b.whatsapp(b.wa(b.wamid(51), "order", {
        "catalog_id": "1234567890", "text": "Mohon dikirim", "product_items": [
            {"product_retailer_id": "karung-pasir", "quantity": "10", "item_price": 0, "currency": "IDR"}]})),
         ACCOUNTS, count=1, check=expect(text="Mohon dikirim\nPesanan: 10 × karung-pasir")),
    Case("whatsapp_system_message_rejected", b.whatsapp(b.wa(b.wamid(52), "system", {
        "body": "User Siti Rahayu changed from 6281234567890 to 6281298765432", "wa_id": "6281298765432",
        "type": "user_changed_number"})), ACCOUNTS, expect="rejected", count=1, check=reasons("system_message")),
    Case("whatsapp_welcome_request_ignored", b.whatsapp(b.wa(b.wamid(53), "request_welcome")), ACCOUNTS,
         expect="ignored", count=1, check=reasons("welcome_request")),
    Case("whatsapp_other_number_ignored", b.whatsapp(b.wa(b.wamid(13), "text", {"body": "x"}), phone="1"),
         ACCOUNTS, expect="ignored", count=1, check=reasons("unknown_account")),
]

MIXED = [
    Case("batch_with_one_bad_event", b.whatsapp(
        b.wa(b.wamid(20), "text", {"body": "Satu"}),
        {"from": b.WA_ID, "type": "text", "text": {"body": "no id, no timestamp"}},
        b.wa(b.wamid(21), "text", {"body": "Tiga ✅"})), ACCOUNTS, count=2,
         check=lambda o: _both(o, reasons("malformed_event"), expect(text="Satu"))),
    Case("unknown_object_ignored", b.dumps({"object": "user", "entry": [{"id": "1", "changes": []}]}), ACCOUNTS,
         expect="ignored", count=1, check=reasons("unsupported_object")),
    Case("malformed_json", b'{"object":"page","entry":[{"id":"1",', ACCOUNTS, expect="bad_payload"),
    Case("json_without_object", b"{}", ACCOUNTS, expect="bad_payload"),
]

CASES = MESSENGER + FEED + INSTAGRAM + WHATSAPP + MIXED


def _both(outcome: Outcome, *checks: Callable[[Outcome], None]) -> None:
    for check in checks:
        check(outcome)


def _one_text(outcome: Outcome, text: str) -> None:
    assert [e.text for e in outcome.envelopes] == [text]


def _attachment(outcome: Outcome, kind: str, source: str) -> None:
    attachment = outcome.envelopes[0].attachments[0]
    assert (attachment.kind, attachment.source_url) == (kind, source), attachment
