"""Why an item is in its queue, in words an officer reads (the console translates them).

The router's own `Decision.reason` is a technical trail in English (coordinates, rule ids, competing
candidates), meant for `kanal route explain` and the logs. The console leads with this summary, built only
from the item's fields, and keeps the trail one click away.
"""

from __future__ import annotations

from collections.abc import Callable

from admin.reason import Reason
from schemas.routed import BY_ROUTER, RoutedItem


def routing_reason(item: RoutedItem, place: Callable[[str], str]) -> Reason:
    """The item's way here in one sentence; `place` names a queue as the console does ("Kelurahan Gambir")."""
    decision = item.decision
    where = place(decision.queue)
    if item.follow_up_of is not None:
        return Reason("The reporter added this to an earlier report: it is shown on that report's page.")
    if item.kind == "duplicate":
        if item.dedup.duplicate_reason == "same_reporter":
            return Reason("The same reporter sent this report again.")
        return Reason("Another report says the same: it is linked to the first one.")
    kind = decision.rule_type
    if kind == "reroute" and item.reroutes and item.reroutes[-1].by == BY_ROUTER:
        return Reason("Moved here by the router: the reporter's answer to our location request names %(place)s.",
                      place=where)
    if kind == "reroute":
        return Reason("Moved here by %(who)s: see the reroute below.", who=item.reroutes[-1].by if item.reroutes
                      else "admin")
    if kind == "geo":
        return Reason("The report's map pin lies in %(place)s.", place=where)
    if kind == "gazetteer":
        return Reason("The report's text names “%(phrase)s”: %(place)s.", phrase=decision.matched or "",
                      place=where)
    if kind == "flags":
        return Reason("An automatic message (%(flag)s), not a complaint.", flag=decision.matched or "")
    if kind == "channel" and decision.category is not None and decision.matched == decision.category:
        return Reason("Its subject decides the queue: %(place)s.", place=where)
    if kind == "channel":
        return Reason("No place was found: it goes to the admin of the channel it came in on (%(place)s).",
                      place=where)
    return Reason("No rule matched: it waits in %(place)s to be sorted by hand.", place=where)
