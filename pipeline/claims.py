"""What a claim of the config may say about the paper: one rule, read by the planning check
(before any job) and by the claims scorecard (on the runs)."""

from __future__ import annotations

from typing import Any

#: ``paper``: the row tests the paper's reading and names its figure; ``ours``: our reading.
SCOPES = ("paper", "ours")


def scope_error(claim: dict[str, Any]) -> tuple[str, str] | None:
    """(the key at fault, what is wrong and what to do) when the claim's ``scope`` and its
    ``paper`` figure disagree; None when they agree."""
    scope = claim.get("scope", "paper")
    if scope not in SCOPES:
        return "scope", f"{scope!r} is not one of {', '.join(SCOPES)}"
    if scope == "paper" and not claim.get("paper"):
        return "paper", ("a claim of scope 'paper' names the paper's figure; give it, or set "
                         "scope: ours for our own reading")
    if scope == "ours" and claim.get("paper"):
        return "paper", ("a claim of scope 'ours' tests our reading, not the paper's: leave "
                         "the paper's figure out (it would read as tested)")
    return None
