"""The pure normaliser on composed messages and on the 16 tricky real-world samples in ../shared."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from connectors.email.normalise import ImapItem, encode_item, normalise
from connectors.errors import BadPayload
from connectors.spec import NormaliseContext
from schemas import Envelope
from tests.conftest import shared_path
from tests.connectors.email import messages as m

RECEIVED = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
INTERNAL = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
CTX = NormaliseContext(channel="email", instance="email-test", account="dki@jakarta.go.id", received_at=RECEIVED)


def one(raw: bytes) -> Envelope:
    outcome = normalise(raw, CTX)
    assert len(outcome.envelopes) == 1 and not outcome.rejected and not outcome.ignored
    return outcome.envelopes[0]


def test_plain_indonesian_complaint() -> None:
    env = one(m.complaint(1))
    assert env.kind == "email" and env.visibility == "private" and env.channel == "email"
    assert env.subject == "Laporan banjir nomor 1"
    assert "Kemang Raya banjir setinggi lutut" in env.text
    assert env.reporter.display_name == "Warga Kemang 1"
    assert env.reporter.contact == "warga1@example.co.id"
    assert env.external_id.startswith("laporan-1@warga.example.co.id#")
    assert env.created_at == datetime(2026, 11, 24, 3, 15, tzinfo=UTC)
    assert env.flags == () and env.thread is None


def test_external_id_survives_a_changed_uid_and_line_endings_but_not_a_reused_message_id() -> None:
    raw = m.complaint(2)
    first = one(encode_item(ImapItem(mailbox="INBOX", uidvalidity=1, uid=5, rfc822=raw)))
    again = one(encode_item(ImapItem(mailbox="INBOX", uidvalidity=99, uid=1, rfc822=raw.replace(b"\r\n", b"\n"))))
    assert first.id == again.id
    reused = one(m.complaint(2, text="Laporan lain dengan Message-ID yang sama dari formulir yang rusak."))
    assert reused.external_id.split("#")[0] == first.external_id.split("#")[0]
    assert reused.id != first.id, "a mailer reusing a Message-ID must not merge two different complaints"


def test_latin1_quoted_printable_and_encoded_words() -> None:
    env = one(m.LATIN1)
    assert env.subject == "Trotoar rusak di Menéng"
    assert env.reporter.display_name == "André Siregar"
    assert env.text == "Trotoar di café depan Stasiun Cikini rusak parah."


def test_html_only_becomes_text_without_script_or_style() -> None:
    env = one(m.HTML_ONLY)
    assert "Sampah menumpuk di" in env.text and "Jl. Tebet Raya" in env.text and "Mohon segera diangkut." in env.text
    assert "alert" not in env.text and "color" not in env.text and "<" not in env.text


def test_attachments_inline_image_reply_to_and_thread() -> None:
    env = one(m.with_attachments())
    assert env.text == "Lampu jalan di Jl. Cempaka Putih mati. Foto terlampir."
    assert env.reporter.display_name == "Budi Santoso"
    assert env.reporter.contact == "budi.kantor@example.co.id", "replies go to Reply-To"
    assert env.reporter.user_id == "budi@example.co.id"
    assert env.thread is not None
    assert env.thread.reply_to == "balasan-dki-7@jakarta.go.id"
    assert env.thread.conversation == "laporan-awal-3@example.co.id"
    kinds = [(a.kind, a.media_type, a.name) for a in env.attachments]
    assert kinds == [("image", "image/png", "foto.png"), ("document", "application/pdf", "surat pengantar.pdf")]
    assert env.attachments[0].size == len(m.PNG) and env.attachments[1].size == len(m.PDF)
    assert all(a.sha256 and (a.source_url or "").startswith("mime-part:") for a in env.attachments)


@pytest.mark.parametrize(("raw", "flags"), [(m.AUTO_REPLY, ("auto_reply",)), (m.BOUNCE, ("bounce",)),
                                            (m.BULK, ("bulk",)), (m.complaint(3), ())])
def test_machine_mail_is_published_with_flags(raw: bytes, flags: tuple[str, ...]) -> None:
    assert one(raw).flags == flags


def test_no_message_id_no_date_falls_back_to_digest_and_internaldate() -> None:
    env = one(encode_item(ImapItem(mailbox="INBOX", uidvalidity=1, uid=1, internaldate=INTERNAL, rfc822=m.NO_ID)))
    assert env.external_id.startswith("sha256:")
    assert env.created_at == INTERNAL
    assert one(m.NO_ID).created_at == RECEIVED, "without INTERNALDATE the receive time is used"


def test_mislabelled_utf8_body_is_read_as_utf8() -> None:
    env = one(m.MISLABELLED)
    assert env.text == "Got ong di Jl. Kramat — airnya meluap ke jalan."
    assert env.subject == "Got ong — macet"


def test_empty_or_headerless_input_is_a_bad_payload() -> None:
    with pytest.raises(BadPayload):
        normalise(b"  \r\n", CTX)


# What each real-world sample must give (see ../shared/samples/PROVENANCE.md for what is tricky about it).
def _arabic(e: Envelope) -> None:
    assert e.subject == "أهلين عميلنا الكريم"
    assert e.reporter.display_name == "متجر سوق نت"
    assert "auto_reply" in e.flags and "bulk" in e.flags
    assert e.thread is not None and e.thread.reply_to == "4e6e35f5a38b4_479f13bb90078178@small-app-01.mail"
    assert e.text.startswith("أنظروا")


def _msg10(e: Envelope) -> None:
    assert "This is a Base64 encoded message." in e.text and "This has no Content-Transfer-Encoding" in e.text
    assert e.reporter.display_name == "Barry Warsaw"


def _msg15(e: Envelope) -> None:
    assert e.text == "Some removed test."
    assert [(a.media_type, a.name) for a in e.attachments] == [("image/gif", "xx.gif")], \
        "the GIF after the reused boundary must not be lost"


def _msg35(e: Envelope) -> None:
    assert e.subject == "here's something interesting"
    assert "no separating newline" in e.text
    assert e.created_at >= RECEIVED - timedelta(days=1), "no Date: INTERNALDATE or the receive time"


def _msg47(e: Envelope) -> None:
    assert e.created_at >= RECEIVED - timedelta(days=1), "hour 27 is not a date: INTERNALDATE or receive time"
    assert e.reporter.display_name == "123@abuse.net" and e.reporter.contact == "123@example.com"


def _display_is_address(e: Envelope) -> None:
    assert e.reporter.user_id == "bob@example.com" and e.reporter.display_name == "alice@example.com"
    assert e.reporter.contact == "ivan@example.com"


def _gb2312(e: Envelope) -> None:
    assert e.subject == "代开各地增值税发票" and e.reporter.display_name == "张先生"
    assert e.text.startswith("你好！我公司可代开各类增值税发票")


def _comma(e: Envelope) -> None:
    assert e.reporter.display_name == "LastßlName, FirstName"
    assert e.reporter.contact == "comma.name@example.com"


def _bad_padding(e: Envelope) -> None:
    assert e.subject == "TEST" and e.text == "TEST"
    assert e.reporter.contact is None and e.external_id.startswith("sha256:")


def _inline_rfc822(e: Envelope) -> None:
    assert [(a.kind, a.media_type) for a in e.attachments] == [("image", "image/png"), ("document", "message/rfc822")]
    assert e.attachments[1].name == "Testmail.eml"


def _korean(e: Envelope) -> None:
    assert e.text == "스티해"


def _cp1252_subject(e: Envelope) -> None:
    assert e.subject == "Formação FrenetikPolis: Mega Campanha Final Verão | Cursos de Setembro"
    assert e.reporter.display_name == "Formação Frenetikpolis"


def _utf8_filename(e: Envelope) -> None:
    assert [a.name for a in e.attachments] == ["ciële.txt"]
    assert e.text == "This is the first part."


def _reply_to_empty(e: Envelope) -> None:
    assert e.reporter.contact == "no-reply@crm.el-example.org", "an empty Reply-To address is not a contact"
    assert e.text == "Body Text"


def _iso2022jp(e: Envelope) -> None:
    assert len(e.attachments) == 1 and (e.attachments[0].name or "").startswith("01 Quien Te Dij")
    assert e.subject == "Fwd: Signed email causes file attachments"


def _blank_continuation(e: Envelope) -> None:
    assert e.subject == "[Online Lead] Online Lead #1111111"
    assert "<requestdate>2010-10-13T07:53:04-09:00</requestdate>" in e.text


SAMPLES: dict[str, Callable[[Envelope], None]] = {
    "email_chatwoot_arabic_multi_encoded_words_autoreply.eml": _arabic,
    "email_cpython_msg_10_iso8859_1_mixed_cte.eml": _msg10,
    "email_cpython_msg_15_reused_inner_boundary_gif.eml": _msg15,
    "email_cpython_msg_35_no_header_body_separator.eml": _msg35,
    "email_cpython_msg_47_invalid_date_hour_27.eml": _msg47,
    "email_mailparser_display_name_is_email_address.eml": _display_is_address,
    "email_mailparser_gb2312_declared_utf8_body_raw_header_utf8.eml": _gb2312,
    "email_mailparser_qp_latin1_display_name_with_comma.eml": _comma,
    "email_mikel_encoded_word_unknown_charset_bad_padding.eml": _bad_padding,
    "email_mikel_inline_cid_png_and_rfc822_attachment.eml": _inline_rfc822,
    "email_mikel_ks_c_5601_1987_8bit_body.eml": _korean,
    "email_mikel_raw_8bit_windows1252_subject.eml": _cp1252_subject,
    "email_mikel_raw_utf8_attachment_filename.eml": _utf8_filename,
    "email_mikel_raw_utf8_reply_to_empty_addr_no_final_newline.eml": _reply_to_empty,
    "email_mikel_rfc2231_iso2022jp_filename_signed_blob.eml": _iso2022jp,
    "email_mikel_to_header_blank_continuation_line.eml": _blank_continuation,
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_real_world_sample(name: str) -> None:
    raw = shared_path("samples", "email", name).read_bytes()
    crlf = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")  # as IMAP servers hand it out
    for variant in (raw, crlf):
        env = one(variant)
        assert env.kind == "email" and env.external_id
        assert "\ufffd" not in (env.subject or ""), "no replacement characters in a decodable subject"
        SAMPLES[name](env)
    assert one(raw).id == one(crlf).id, "line endings do not change the envelope id"
