"""Why the router put an item in its queue, in words an officer reads (the console translates them).

The router's own `Decision.reason` is a technical trail in English (coordinates, rule ids, competing
candidates), meant for `kanal route explain` and the logs. The console leads with this summary, built only
from the decision's fields, and keeps the trail one click away.
"""

from __future__ import annotations

from collections.abc import Callable

from admin.reason import Reason
from schemas import Decision


def routing_reason(decision: Decision, place: Callable[[str], str]) -> Reason:
    """The decision in one sentence; `place` names a queue as the console does ("Kelurahan Gambir")."""
    where = place(decision.queue)
    kind = decision.rule_type
    if kind == "geo":
        return Reason("The report's map pin lies in %(place)s.", place=where)
    if kind == "gazetteer":
        return Reason("The report's text names “%(phrase)s”: %(place)s.", phrase=decision.matched or "",
                      place=where)
    if kind == "flags":
        return Reason("An automatic message (%(flag)s), not a complaint.", flag=decision.matched or "")
    if kind == "reroute":
        return Reason("Moved here by hand: see the reroute below.")
    if kind == "channel" and decision.category is not None and decision.matched == decision.category:
        return Reason("Its subject decides the queue: %(place)s.", place=where)
    if kind == "channel":
        return Reason("No place was found: it goes to the admin of the channel it came in on (%(place)s).",
                      place=where)
    return Reason("No rule matched: it waits in %(place)s to be sorted by hand.", place=where)
