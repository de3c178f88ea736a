"""Messages composed in the real RFC 822 wire format, so a clone without ../shared covers the behaviour."""

from __future__ import annotations

import base64
from email.message import EmailMessage
from email.policy import SMTP

# A 1x1 PNG: a real image for inline/attachment parts.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def complaint(n: int, text: str | None = None) -> bytes:
    """A plain Indonesian complaint with a unique Message-ID (number `n`)."""
    msg = EmailMessage()
    msg["From"] = f"Warga Kemang {n} <warga{n}@example.co.id>"
    msg["To"] = "dki@jakarta.go.id"
    msg["Subject"] = f"Laporan banjir nomor {n}"
    msg["Date"] = "Tue, 24 Nov 2026 10:15:00 +0700"
    msg["Message-ID"] = f"<laporan-{n}@warga.example.co.id>"
    msg.set_content(text or f"Selamat pagi, jalan di Kemang Raya banjir setinggi lutut sejak subuh (laporan {n}).")
    return msg.as_bytes(policy=SMTP)


# Latin-1 body, encoded-word Subject and From with Indonesian/Javanese names.
LATIN1 = (
    b"From: =?iso-8859-1?Q?Andr=E9_Siregar?= <andre@example.co.id>\r\n"
    b"To: dki@jakarta.go.id\r\n"
    b"Subject: =?iso-8859-1?Q?Trotoar_rusak_di_Men=E9ng?=\r\n"
    b"Date: Mon, 23 Nov 2026 08:00:00 +0700\r\n"
    b"Message-ID: <latin1-1@example.co.id>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"Trotoar di caf=E9 depan Stasiun Cikini rusak parah.\r\n"
)

# HTML only, with a script and a style that must not reach the text.
HTML_ONLY = (
    b"From: Sari <sari@example.co.id>\r\n"
    b"To: dki@jakarta.go.id\r\n"
    b"Subject: Sampah menumpuk\r\n"
    b"Date: Mon, 23 Nov 2026 09:00:00 +0700\r\n"
    b"Message-ID: <html-only-1@example.co.id>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n\r\n"
    b"<html><head><style>p{color:red}</style><script>alert('x')</script></head>"
    b"<body><p>Sampah menumpuk di <b>Jl. Tebet Raya</b> sudah 3 hari.</p><p>Mohon segera diangkut.<br>Terima"
    b" kasih</p></body></html>\r\n"
)


def with_attachments() -> bytes:
    """Plain + HTML alternative, an inline image (cid) and a PDF attachment."""
    msg = EmailMessage()
    msg["From"] = "Budi Santoso <budi@example.co.id>"
    msg["Reply-To"] = "Budi (kantor) <budi.kantor@example.co.id>"
    msg["To"] = "dki@jakarta.go.id"
    msg["Subject"] = "Lampu jalan mati, foto terlampir"
    msg["Date"] = "Mon, 23 Nov 2026 20:30:00 +0700"
    msg["Message-ID"] = "<lampiran-1@example.co.id>"
    msg["In-Reply-To"] = "<balasan-dki-7@jakarta.go.id>"
    msg["References"] = "<laporan-awal-3@example.co.id> <balasan-dki-7@jakarta.go.id>"
    msg.set_content("Lampu jalan di Jl. Cempaka Putih mati. Foto terlampir.")
    msg.add_alternative('<p>Lampu jalan di Jl. Cempaka Putih mati.</p><img src="cid:foto1@example.co.id">',
                        subtype="html")
    html = msg.get_payload()[1]
    html.add_related(PNG, maintype="image", subtype="png", cid="<foto1@example.co.id>", filename="foto.png")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="surat pengantar.pdf")
    return msg.as_bytes(policy=SMTP)


AUTO_REPLY = (
    b"From: Kantor Kelurahan <kelurahan@example.go.id>\r\n"
    b"To: dki@jakarta.go.id\r\n"
    b"Subject: Out of office: Laporan banjir\r\n"
    b"Date: Mon, 23 Nov 2026 09:00:00 +0700\r\n"
    b"Message-ID: <ooo-1@example.go.id>\r\n"
    b"Auto-Submitted: auto-replied\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    b"Saya sedang cuti sampai 1 Desember.\r\n"
)

BOUNCE = (
    b"From: Mail Delivery Subsystem <MAILER-DAEMON@mx.jakarta.go.id>\r\n"
    b"To: dki@jakarta.go.id\r\n"
    b"Subject: Undelivered Mail Returned to Sender\r\n"
    b"Date: Mon, 23 Nov 2026 09:05:00 +0700\r\n"
    b"Message-ID: <bounce-1@mx.jakarta.go.id>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n"
    b"--b1\r\nContent-Type: text/plain\r\n\r\nThe mail system: <warga@gone.example>: host not found\r\n"
    b"--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.jakarta.go.id\r\n\r\n"
    b"Final-Recipient: rfc822; warga@gone.example\r\nAction: failed\r\nStatus: 5.1.2\r\n"
    b"--b1--\r\n"
)

BULK = (
    b"From: Promo <promo@shop.example>\r\n"
    b"To: dki@jakarta.go.id\r\n"
    b"Subject: Diskon besar\r\n"
    b"Date: Mon, 23 Nov 2026 09:05:00 +0700\r\n"
    b"Message-ID: <promo-1@shop.example>\r\n"
    b"Precedence: bulk\r\n"
    b"List-Unsubscribe: <mailto:unsubscribe@shop.example>\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    b"Diskon 50%!\r\n"
)

# No Message-ID and no Date: the id comes from a content digest, the date from INTERNALDATE.
NO_ID = (
    b"From: anon@example.co.id\r\n"
    b"To: dki@jakarta.go.id\r\n"
    b"Subject: Pohon tumbang\r\n\r\n"
    b"Pohon tumbang di Jl. Sudirman dekat halte.\r\n"
)

# windows-1252 declared, UTF-8 body bytes (mislabelled), Indonesian text with an em dash.
MISLABELLED = (
    "From: Dewi <dewi@example.co.id>\r\n"
    "To: dki@jakarta.go.id\r\n"
    "Subject: =?utf-8?B?" + base64.b64encode("Got ong — macet".encode()).decode() + "?=\r\n"
    "Date: Mon, 23 Nov 2026 07:00:00 +0700\r\n"
    "Message-ID: <mislabelled-1@example.co.id>\r\n"
    "Content-Type: text/plain; charset=windows-1252\r\n"
    "Content-Transfer-Encoding: 8bit\r\n\r\n"
    "Got ong di Jl. Kramat — airnya meluap ke jalan.\r\n"
).encode("utf-8")

ALL = {"latin1": LATIN1, "html_only": HTML_ONLY, "attachments": with_attachments(), "auto_reply": AUTO_REPLY,
       "bounce": BOUNCE, "bulk": BULK, "no_id": NO_ID, "mislabelled": MISLABELLED}
