"""`[outbound]`: templates, quiet hours, rate limits and opt-out words for messages back to reporters."""

from __future__ import annotations

import msgspec

from kanal.control import DEFAULT_OPT_IN, DEFAULT_OPT_OUT
from kanal.sends import CHANNELS, MAX_DELIVERIES
from kanal.settings_types import Duration

DEFAULT_TEMPLATES: dict[str, dict[str, str]] = {
    "id": {
        "ack": "Terima kasih, laporan Anda sudah kami terima dengan nomor {ref}. Pantau perkembangannya di "
               "{status_url}. Balas BERHENTI jika tidak ingin menerima kabar lagi.",
        "duplicate": "Laporan ini sudah tercatat dengan nomor {ref}. Kami akan mengabari perkembangannya.",
        "status": "Laporan {ref}: status kini {stage_label}.{note}",
        "final": "Laporan {ref} telah selesai ditangani (Selesai).{note} Terima kasih atas partisipasi Anda.",
        "follow_up": "Tambahan untuk laporan {ref} diterima. Pantau perkembangannya di {status_url}.",
        "status_answer": "Laporan {ref}: status kini {stage_label}. Pantau perkembangannya di {status_url}.",
        "unknown_ref": "Nomor laporan {ref} tidak kami temukan. Periksa kembali nomornya; laporan yang baru "
                       "dikirim tercatat dalam beberapa menit.",
        # added to the acknowledgement of a chat report that no rule could place (router/prompts.py)
        "ask_location": "Di mana lokasinya? Bagikan lokasi Anda, atau balas dengan nama jalan dan kelurahannya, "
                        "agar laporan sampai ke kelurahan yang tepat.",
        "ask_location_sms": "Di mana lokasinya? Balas dengan nama jalan dan kelurahannya, agar laporan sampai ke "
                            "kelurahan yang tepat.",
        "location_button": "📍 Kirim lokasi",
        "located": "Terima kasih, lokasi laporan {ref} sudah kami terima dan laporan diteruskan ke kelurahannya. "
                   "Pantau perkembangannya di {status_url}.",
    },
    "en": {
        "ack": "Thank you, we received your report with number {ref}. Follow it at {status_url}. Reply STOP to "
               "stop receiving updates.",
        "duplicate": "This report is already recorded as {ref}. We will keep you posted.",
        "status": "Report {ref}: now {stage_label}.{note}",
        "final": "Report {ref} has been resolved (Selesai).{note} Thank you for taking part.",
        "follow_up": "Your addition to report {ref} was received. Follow it at {status_url}.",
        "status_answer": "Report {ref}: now {stage_label}. Follow it at {status_url}.",
        "unknown_ref": "We found no report numbered {ref}. Please check the number; a report sent just now is "
                       "recorded within a few minutes.",
        "ask_location": "Where is it? Share your location, or reply with the street and kelurahan, so that the "
                        "report reaches the right kelurahan.",
        "ask_location_sms": "Where is it? Reply with the street and kelurahan, so that the report reaches the "
                            "right kelurahan.",
        "location_button": "📍 Send location",
        "located": "Thank you, we received the location of report {ref} and passed it to its kelurahan. Follow "
                   "it at {status_url}.",
    },
}


class OutboundSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How Kanal answers reporters. Templates: `{ref}`, `{status_url}`, `{stage_label}`, `{note}`."""

    enabled: bool = True
    channels: list[str] = msgspec.field(default_factory=lambda: list(CHANNELS))
    language: str = "id"
    templates: dict[str, dict[str, str]] = {}
    channel_templates: dict[str, dict[str, str]] = {}
    status_url: str = "https://kanal.example.go.id/laporan/{ref}"
    timezone: str = "Asia/Jakarta"
    quiet_hours: str | None = "21:00-06:00"
    rate_limit: int = 5
    rate_window: Duration = Duration(hours=1)
    opt_out_words: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_OPT_OUT))
    opt_in_words: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_OPT_IN))
    max_deliveries: int = MAX_DELIVERIES  # read by each connector's sender loop (kanal.sends.DeliverySettings)
