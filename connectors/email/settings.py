"""Settings of one IMAP mailbox instance (`[connectors.<instance>]` with `channel = "email"`).

Imports without imapclient, so `kanal connector list` can show the channel even where it is not installed.
`host`/`port` are the instance's own HTTP (health/metrics) address, so the mail server is `imap_host`/`imap_port`.
"""

from __future__ import annotations

import ssl
from typing import Literal

from msgspec import Struct

from kanal.settings_types import Duration, Secret

TlsMode = Literal["tls", "starttls", "none"]
AfterPublish = Literal["none", "flag", "move"]


class EmailSettings(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One mailbox: where it is, how to log in, what to do with a message once it is published."""

    account: str                              # the public address, e.g. dki@jakarta.go.id (Envelope.account)
    imap_host: str
    imap_port: int | None = None              # default 993 with tls, 143 otherwise
    tls: TlsMode = "tls"                      # tls = IMAPS; starttls = upgrade on 143; none = tests only
    tls_verify: bool = True
    tls_ca_file: str | None = None            # private CA bundle for an internal mail server
    user: str
    password: Secret | None = None            # or password_file = "/run/credentials/kanal/imap-password"
    oauth2_token: Secret | None = None        # XOAUTH2 access token (or oauth2_token_file)
    oauth2_token_path: str | None = None      # re-read at every login, for tokens a refresher rotates
    mailbox: str = "INBOX"
    batch_size: int = 25                      # messages fetched per page (one checkpoint per page)
    # First run (no checkpoint) and after a UIDVALIDITY change: only mail that arrived within this window, so a
    # years-old mailbox does not become thousands of new items (and acknowledgements). Unset: the whole mailbox.
    first_run_since: Duration | None = Duration(days=7)
    idle: bool = True                         # use IMAP IDLE when the server offers it, else poll_interval
    idle_timeout: Duration = Duration(minutes=25)  # RFC 2177: re-issue IDLE before 29 minutes
    timeout: Duration = Duration(seconds=30)  # socket timeout for IMAP commands
    after_publish: AfterPublish = "none"
    flag: str = "\\Seen"                      # with after_publish = "flag": \Seen or a keyword like KanalIn
    move_to: str | None = None                # with after_publish = "move": target folder (created if absent)
    # Replies by SMTP (optional: without smtp_host this mailbox does not answer reporters).
    smtp_host: str | None = None
    smtp_port: int | None = None              # default 465 with tls, 587 with starttls, 25 with none
    smtp_tls: TlsMode = "starttls"            # same meaning as `tls`, for the SMTP server; tls_verify/tls_ca_file apply
    smtp_user: str | None = None              # default: `user`
    smtp_password: Secret | None = None       # default: `password` (or smtp_password_file)
    smtp_timeout: Duration = Duration(seconds=30)

    def __post_init__(self) -> None:
        if self.password is None and self.oauth2_token is None and self.oauth2_token_path is None:
            raise ValueError("set password (or password_file) or oauth2_token / oauth2_token_path")
        if self.after_publish == "move" and not self.move_to:
            raise ValueError('after_publish = "move" needs move_to = "<folder>"')
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")

    @property
    def smtp_port_or_default(self) -> int:
        """The SMTP port, defaulted from smtp_tls."""
        return self.smtp_port or {"tls": 465, "starttls": 587, "none": 25}[self.smtp_tls]

    @property
    def port(self) -> int:
        """The IMAP port, defaulted from the TLS mode."""
        return self.imap_port or (993 if self.tls == "tls" else 143)

    def tls_context(self) -> ssl.SSLContext:
        """The TLS context for both mail servers (IMAP and SMTP): `tls_ca_file`, and `tls_verify`."""
        context = ssl.create_default_context(cafile=self.tls_ca_file)
        if not self.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


class EmailCursor(Struct, frozen=True, kw_only=True):
    """Checkpoint: the mailbox epoch (UIDVALIDITY) and the highest UID published in it."""

    uidvalidity: int
    last_uid: int = 0
