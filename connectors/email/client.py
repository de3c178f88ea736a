"""IMAP I/O with imapclient (blocking; the connector runs it in a worker thread): login, UID search and
fetch, IDLE, flag/move. Maps IMAP failures onto the runtime's error tree.

- login refused (wrong password, revoked OAuth2 token) -> PermanentError(credentials=True)
- the mailbox or the move target does not exist and cannot be created -> PermanentError (config)
- network, TLS handshake, timeouts, server BYE/abort, other command failures -> TransientError
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from connectors.email.settings import EmailSettings
from connectors.errors import PermanentError, TransientError

T = TypeVar("T")
NETWORK_ERRORS = (OSError, socket.timeout, ssl.SSLError, IMAPClientAbortError, EOFError)


@contextmanager
def errors(action: str, host: str) -> Iterator[None]:
    """Turn imapclient/socket exceptions raised by `action` into Transient/Permanent errors."""
    try:
        yield
    except LoginError as err:
        raise PermanentError(f"IMAP server {host} refused the login ({err})",
                             hint="check user and password(_file) / oauth2_token of this instance; an OAuth2 "
                                  "token may have expired", credentials=True) from err
    except (PermanentError, TransientError):
        raise
    except NETWORK_ERRORS as err:
        raise TransientError(f"IMAP {action} on {host} failed: {err!r}") from err
    except IMAPClientError as err:
        raise TransientError(f"IMAP {action} on {host} failed: {err}") from err


class Fetched:
    """One message as the server returned it."""

    __slots__ = ("internaldate", "rfc822", "uid")

    def __init__(self, uid: int, rfc822: bytes, internaldate: datetime | None) -> None:
        self.uid = uid
        self.rfc822 = rfc822
        self.internaldate = internaldate


class Mailbox:
    """One logged-in connection with the configured mailbox selected."""

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings
        self.client: Any = None  # imapclient.IMAPClient (untyped library)
        self.uidvalidity = 0
        self.capabilities: frozenset[bytes] = frozenset()

    @property
    def connected(self) -> bool:
        return self.client is not None

    def _secret(self) -> tuple[str, str]:
        s = self.settings
        if s.oauth2_token_path:
            try:
                return "oauth2", Path(s.oauth2_token_path).read_text().strip()
            except OSError as err:
                raise TransientError(f"cannot read oauth2_token_path {s.oauth2_token_path}: {err}") from err
        if s.oauth2_token is not None:
            return "oauth2", s.oauth2_token.reveal()
        assert s.password is not None  # settings validation guarantees one credential
        return "password", s.password.reveal()

    def open(self) -> None:
        """Connect (IMAPS, STARTTLS or plain), log in, select the mailbox (read-only unless we flag/move)."""
        s = self.settings
        with errors("connect", s.imap_host):
            client = IMAPClient(s.imap_host, port=s.port, ssl=s.tls == "tls",
                                ssl_context=self.settings.tls_context() if s.tls == "tls" else None,
                                timeout=s.timeout.total_seconds())
            try:
                client.normalise_times = False  # keep INTERNALDATE's zone
                if s.tls == "starttls":
                    client.starttls(self.settings.tls_context())
                mode, secret = self._secret()
                if mode == "oauth2":
                    client.oauth2_login(s.user, secret)
                else:
                    client.login(s.user, secret)
                self.capabilities = frozenset(client.capabilities())
                self._select(client)
            except BaseException:
                _shutdown(client)
                raise
        self.client = client

    def _select(self, client: Any) -> None:
        s = self.settings
        try:
            info = client.select_folder(s.mailbox, readonly=s.after_publish == "none")
        except IMAPClientError as err:
            if isinstance(err, IMAPClientAbortError):
                raise
            raise PermanentError(f"cannot open mailbox {s.mailbox!r} on {s.imap_host}: {err}",
                                 hint="check `mailbox` of this instance (folder names are case-sensitive)") from err
        self.uidvalidity = int(info[b"UIDVALIDITY"])
        if s.after_publish == "move" and s.move_to and not client.folder_exists(s.move_to):
            try:
                client.create_folder(s.move_to)
            except IMAPClientError as err:
                raise PermanentError(f"cannot create folder {s.move_to!r}: {err}",
                                     hint="create it by hand or fix `move_to`") from err

    def refresh(self) -> None:
        """Connect if needed, else SELECT again: a pass must see the current UIDVALIDITY and messages."""
        if self.client is None:
            self.open()
            return
        self.call("select", self._select)

    def close(self) -> None:
        """Log out (best effort) and forget the connection."""
        client, self.client = self.client, None
        if client is not None:
            _shutdown(client)

    def call(self, action: str, fn: Callable[[Any], T]) -> T:
        """Run one command; on a failure drop the connection so the next pass reconnects."""
        if self.client is None:
            self.open()
        try:
            with errors(action, self.settings.imap_host):
                return fn(self.client)
        except TransientError:
            self.close()
            raise

    def uids_after(self, last_uid: int) -> list[int]:
        """UIDs above `last_uid`, ascending (`N:*` also matches the highest UID below N: filtered out)."""
        found = self.call("search", lambda c: c.search(["UID", f"{last_uid + 1}:*"]))
        return sorted(int(u) for u in found if int(u) > last_uid)

    def uids_since(self, day: date) -> list[int]:
        """UIDs of mail the server received on or after `day` (IMAP SEARCH SINCE, by INTERNALDATE), ascending."""
        found = self.call("search", lambda c: c.search(["SINCE", day]))
        return sorted(int(u) for u in found)

    def fetch(self, uids: list[int]) -> list[Fetched]:
        """Exact bytes (BODY.PEEK[]: does not set \\Seen) and INTERNALDATE of these UIDs, in UID order."""
        data = self.call("fetch", lambda c: c.fetch(uids, ["BODY.PEEK[]", "INTERNALDATE"]))
        found: list[Fetched] = []
        for uid in sorted(data):
            item = data[uid]
            body = item.get(b"BODY[]")
            if isinstance(body, bytes):
                found.append(Fetched(int(uid), body, item.get(b"INTERNALDATE")))
        return found

    def after_publish(self, uids: list[int]) -> None:
        """Flag or move published messages as configured."""
        s = self.settings
        if not uids or s.after_publish == "none":
            return
        if s.after_publish == "flag":
            self.call("store", lambda c: c.add_flags(uids, [s.flag.encode()], silent=True))
            return
        if b"MOVE" in self.capabilities:
            self.call("move", lambda c: c.move(uids, s.move_to))
            return

        def copy_delete(c: Any) -> None:
            c.copy(uids, s.move_to)
            c.add_flags(uids, [b"\\Deleted"], silent=True)
            if b"UIDPLUS" in self.capabilities:
                c.uid_expunge(uids)
            else:
                c.expunge()

        self.call("move", copy_delete)

    @property
    def can_idle(self) -> bool:
        return b"IDLE" in self.capabilities

    def idle(self, seconds: float, stop: threading.Event) -> bool:
        """IDLE until new mail (True), `seconds` pass or `stop` is set (False)."""

        def run(c: Any) -> bool:
            for response in c.noop()[1]:  # changes since the last command
                if _is_new_mail(response):
                    return True
            c.idle()
            try:
                waited = 0.0
                while waited < seconds and not stop.is_set():
                    if any(_is_new_mail(r) for r in c.idle_check(timeout=1)):
                        return True
                    waited += 1
                return False
            finally:
                c.idle_done()

        return self.call("idle", run)


def _is_new_mail(response: object) -> bool:
    return isinstance(response, tuple) and len(response) >= 2 and response[1] == b"EXISTS"


def _shutdown(client: Any) -> None:
    try:
        client.logout()
    except Exception:  # already broken: close the socket instead
        with suppress(Exception):
            client.shutdown()
