"""Settings of a Kannel instance (one city number behind one Kannel gateway); no optional library needed."""

from __future__ import annotations

from msgspec import Struct, field

from kanal.settings_types import Duration, Secret


class KannelSettings(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[connectors.<instance>]` keys for channel "kannel" (host, port, public_url are common keys).

    - secret: shared with kannel.conf; Kannel puts it in its get-url/post-url and dlr-url as `secret=`
      (a proxy may send it as the `X-Kanal-Secret` header instead). Requests without it get 403.
    - allow_from: addresses (or networks, CIDR) Kannel's smsbox calls from; anyone else gets 403.
    - account: the city's number as E.164 (`+628111272206`), the envelope account; empty: the SMS's receiver.
    - region: the numbering plan national numbers are read in (`0812...` -> `+62812...`).
    - path / dlr_path: where smsbox's sms-service and its delivery reports call.
    - sendsms_url, username, password: smsbox's sendsms interface and a `sendsms-user` of kannel.conf.
    - sender: the `from` of replies (the operator may want the national form); empty: `account`.
    - smsc: route replies through this `smsc-id` of kannel.conf; empty: Kannel's own routing.
    - callback_url: scheme://host:port at which Kannel reaches this instance for delivery reports; empty:
      http://<host>:<port> of this instance (with port 0 replies are sent without delivery reports).
    - max_parts: concatenated parts per sendsms call (kannel.conf's `max-messages` must allow it); a longer
      reply is sent as several calls, cut at words.
    - send_timeout: how long one sendsms call may take before it is retried.
    """

    secret: Secret
    allow_from: list[str] = field(default_factory=lambda: ["127.0.0.1", "::1"])
    account: str = ""
    region: str = "ID"
    path: str = "/kannel/inbound"
    dlr_path: str = "/kannel/dlr"
    sendsms_url: str = "http://127.0.0.1:13013/cgi-bin/sendsms"
    username: str = "kanal"
    password: Secret | None = None
    sender: str = ""
    smsc: str = ""
    callback_url: str = ""
    max_parts: int = 4
    send_timeout: Duration = Duration(seconds=15)
