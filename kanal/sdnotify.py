"""sd_notify without libsystemd: tell systemd a Type=notify service is ready, or stopping.

Why: `kanal-connector@.service` should count as started only once the instance listens and NATS (or the
spool) can take input. Calling `notify("READY=1")` is a no-op outside systemd (no $NOTIFY_SOCKET).
"""

from __future__ import annotations

import os
import socket


def notify(state: str = "READY=1") -> bool:
    """Send `state` to $NOTIFY_SOCKET; False when not run by systemd (nothing to tell)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # abstract namespace
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.connect(address)
        sock.sendall(state.encode())
    return True
