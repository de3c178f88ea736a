"""Run a program that gets SIGTERM when the process that started it dies, however it dies.

`kanal up` stops its children in order when it is asked to. Killed outright (SIGKILL, the OOM killer, a
closed container), it cannot: without this, the router, the connectors and the embedded nats-server would
go on running as orphans, holding their ports, and the next `kanal up` would refuse to start. So `kanal up`
starts each child as

    python -m kanal.tether --parent <its pid> -- <program> <args...>

which asks Linux for a parent-death signal (prctl PR_SET_PDEATHSIG) and then replaces itself with the
program: same pid, nothing left in between, and the setting survives the exec. Elsewhere than Linux it only
runs the program. The signal follows the *thread* that started the child, so the caller must start it from
a thread that lives as long as the child (`kanal up` uses its event loop's thread).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def _ask_for_parent_death_signal() -> bool:
    """True if Linux will send SIGTERM to this process when its parent thread exits."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def command(argv: list[str]) -> list[str]:
    """`argv` wrapped so that it runs tethered to this process."""
    return [sys.executable, "-m", "kanal.tether", "--parent", str(os.getpid()), "--", *argv]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kanal.tether",
        description="Run PROGRAM so that it gets SIGTERM when the process --parent dies (used by `kanal up`).",
    )
    parser.add_argument("--parent", type=int, required=True, help="pid of the process that started this one")
    parser.add_argument("program", nargs=argparse.REMAINDER, help="-- then the program and its arguments")
    args = parser.parse_args(argv)
    program = args.program[1:] if args.program[:1] == ["--"] else args.program
    if not program:
        parser.error("no program given: python -m kanal.tether --parent PID -- PROGRAM [ARGS...]")
    if not _ask_for_parent_death_signal() and sys.platform.startswith("linux"):
        print(f"kanal.tether: no parent-death signal for {program[0]}; it may outlive its parent", file=sys.stderr)
    # Python ignores these at start-up and an exec keeps ignored signals; subprocess would reset them
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    if os.getppid() != args.parent:  # the parent died before the request above took effect
        print(f"kanal.tether: parent {args.parent} has gone; not starting {program[0]}", file=sys.stderr)
        return 1
    try:
        os.execvp(program[0], program)  # noqa: S606 (the whole point: become the program, no shell)
    except OSError as err:
        print(f"kanal.tether: cannot run {program[0]}: {err.strerror}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main())
