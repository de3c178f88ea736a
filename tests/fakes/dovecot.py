"""A throwaway real Dovecot IMAP server for tests: own config in a temp dir, a free loopback port, plain auth.

Follows /work/shared/RECIPES.md: imap-login refuses root, so login/internal users are dovenull/dovecot; mail is
owned by the `dovecot` uid (first_valid_uid at or below it); passwd-file passdb with {PLAIN} passwords; no TLS.
Dovecot's XOAUTH2 mechanism verifies the bearer token like a plain password against the passdb, so a token
listed in the passwd-file is a working OAuth2 credential for tests (no introspection server needed).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.fakes.serve import free_port

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
DOVEADM = shutil.which("doveadm") or ("/usr/bin/doveadm" if Path("/usr/bin/doveadm").exists() else None)

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2
auth_cache_size = 0
auth_failure_delay = 0
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = {uid}
mail_location = maildir:{root}/mail/%u
mail_plugins =
imap_idle_notify_interval = 1 secs
mailbox_idle_check_interval = 1 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/tokens
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def available() -> str | None:
    """Why a real Dovecot cannot run here, or None when it can."""
    if DOVECOT is None:
        return "dovecot is not installed (Debian package dovecot-imapd; scripts/system-deps.sh installs it)"
    if os.geteuid() != 0:
        return "a throwaway dovecot needs root here (it switches to the dovecot/dovenull users)"
    try:
        pwd.getpwnam("dovecot")
        pwd.getpwnam("dovenull")
    except KeyError:
        return "the dovecot and dovenull system users are missing (reinstall dovecot-core)"
    return None


class Dovecot:
    """One running instance with one user; `stop()`/`start()` keep its mail and port."""

    def __init__(self, user: str = "dki@jakarta.go.id", password: str = "rahasia-imap-123",  # noqa: S107
                 token: str = "ya29.test-oauth-token-abcdef", tls: bool = False) -> None:  # noqa: S107
        self.user = user
        self.password = password
        self.token = token
        self._generation = 0
        self.root = Path(tempfile.mkdtemp(prefix="kanal-dovecot-"))
        self.root.chmod(0o755)  # dovecot's users must traverse it
        self.port = free_port()
        self.imaps_port = free_port() if tls else 0
        self.cert: Path | None = None
        ssl_conf = "ssl = no"
        if tls:
            self.cert = self._self_signed()
            ssl_conf = f"ssl = yes\nssl_cert = <{self.cert}\nssl_key = <{self.root / 'key.pem'}"
        entry = pwd.getpwnam("dovecot")
        self.uid, self.gid = entry.pw_uid, entry.pw_gid
        for sub in ("run", "state", "mail"):
            (self.root / sub).mkdir()
        os.chown(self.root / "mail", self.uid, self.gid)
        self.conf = self.root / "dovecot.conf"
        self.conf.write_text(CONFIG.format(root=self.root, uid=self.uid, gid=self.gid, port=self.port,
                                            imaps_port=self.imaps_port, ssl=ssl_conf))
        self.set_passwords(password, token)
        self.running = False

    def _self_signed(self) -> Path:
        """A throwaway certificate for 127.0.0.1 (openssl CLI), also the client's CA file."""
        cert, key = self.root / "cert.pem", self.root / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
        return cert

    def set_passwords(self, password: str, token: str) -> None:
        """Accept exactly this password and this XOAUTH2 token; passdb files are re-read on the next login."""
        # a passwd-file holds one line per user, so the token lives in a second passdb tried after the first
        for name, secret in (("passwd", password), ("tokens", token)):
            path = self.root / name
            tmp = path.with_suffix(".tmp")
            tmp.write_text(f"{self.user}:{{PLAIN}}{secret}\n")
            tmp.chmod(0o644)
            tmp.replace(path)
            # Dovecot re-reads a passwd-file when its mtime (whole seconds) or size changes; two writes of
            # same-length secrets within one second would go unnoticed, so each write moves mtime forward.
            self._generation += 2
            stamp = time.time() + self._generation
            os.utime(path, (stamp, stamp))

    def start(self) -> None:
        """Start (or restart) the daemon and wait until it greets on its port."""
        assert DOVECOT is not None
        subprocess.run([DOVECOT, "-c", str(self.conf)], check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        self.running = True
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1) as sock:
                if sock.recv(64).startswith(b"* OK"):
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"dovecot did not start; see {self.root / 'dovecot.log'}:\n{self.log()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the daemon (mail stays); the port refuses connections once this returns."""
        if not self.running:
            return
        assert DOVECOT is not None
        subprocess.run([DOVECOT, "-c", str(self.conf), "stop"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30, check=False)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
            except OSError:
                break
            time.sleep(0.05)
        self.running = False

    def close(self) -> None:
        """Stop and delete everything."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        """The daemon's log, for failure messages."""
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    @property
    def settings(self) -> dict[str, object]:
        """The connector's config keys for this server (plain IMAP, password)."""
        return {"account": self.user, "imap_host": "127.0.0.1", "imap_port": self.port, "tls": "none",
                "user": self.user, "password": self.password, "poll_interval": "1s"}

    @contextlib.contextmanager
    def client(self) -> Iterator[object]:
        """A logged-in imapclient.IMAPClient (typed loosely: imapclient has no stubs)."""
        from imapclient import IMAPClient

        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        client.login(self.user, self.password)
        try:
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def append(self, *messages: bytes, mailbox: str = "INBOX", when: datetime | None = None) -> None:
        """Deliver messages with IMAP APPEND (as an MTA or a migration tool would)."""
        with self.client() as client:
            for message in messages:
                client.append(mailbox, message, msg_time=when)  # type: ignore[attr-defined]

    def uids(self, mailbox: str = "INBOX") -> tuple[int, list[int]]:
        """(UIDVALIDITY, UIDs) of a mailbox."""
        with self.client() as client:
            info = client.select_folder(mailbox, readonly=True)  # type: ignore[attr-defined]
            return int(info[b"UIDVALIDITY"]), sorted(client.search("ALL"))  # type: ignore[attr-defined]

    def flags(self, mailbox: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        """Flags per UID."""
        with self.client() as client:
            client.select_folder(mailbox, readonly=True)  # type: ignore[attr-defined]
            fetched = client.fetch(client.search("ALL"), ["FLAGS"])  # type: ignore[attr-defined]
            return {int(uid): tuple(data[b"FLAGS"]) for uid, data in fetched.items()}

    def change_uidvalidity(self, mailbox: str = "INBOX") -> int:
        """Give a mailbox a new UIDVALIDITY with its messages kept (as an index rebuild or migration does).

        `doveadm mailbox update --uid-validity` rewrites it in the index; UIDs restart as the server decides.
        Returns the new UIDVALIDITY.
        """
        old, _ = self.uids(mailbox)
        new = old + 1000
        assert DOVEADM is not None, "doveadm is part of dovecot-core"
        result = subprocess.run([DOVEADM, "-c", str(self.conf), "mailbox", "update", "-u", self.user,
                                 "--uid-validity", str(new), mailbox], capture_output=True, text=True,
                                timeout=30, stdin=subprocess.DEVNULL, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"doveadm mailbox update failed: {result.stderr}")
        got, _ = self.uids(mailbox)
        assert got == new, f"UIDVALIDITY is {got}, expected {new}"
        return new


@contextlib.contextmanager
def running_dovecot(tls: bool = False) -> Iterator[Dovecot]:
    """A started Dovecot (with IMAPS and STARTTLS when `tls`), or skip the test saying why it cannot run."""
    reason = available() or (None if not tls or shutil.which("openssl") else "openssl is needed for a test cert")
    if reason:
        pytest.skip(reason)
    server = Dovecot(tls=tls)
    try:
        server.start()
        yield server
    finally:
        server.close()
