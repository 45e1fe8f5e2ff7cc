"""Configured model ids against the Models API's list (issue 46): a typo or another vendor's model name is
found at start-up, naming the closest real id, rather than at the first reply as an HTTP 404.

The list holds dated ids ("claude-haiku-4-5-20251001") and, for newer models, undated ones; operators write
the aliases the API also accepts: the id without its date, ``-latest`` and ``-0`` forms."""

from __future__ import annotations

import difflib
import re

_DATE = re.compile(r"-\d{8}$")


def aliases(listed: str) -> set[str]:
    """The names the API accepts for a listed id: itself, and without its date (plus ``-latest`` and, for a
    model whose number has no minor part, ``-0``)."""
    names = {listed}
    if _DATE.search(listed):
        bare = _DATE.sub("", listed)
        names |= {bare, f"{bare}-latest"}
        if re.search(r"-\d$", bare) and not re.search(r"-\d-\d$", bare):
            names.add(f"{bare}-0")
    return names


def accepted(model: str, listed: list[str]) -> bool:
    """Whether ``model`` names a listed model (by its id or an alias)."""
    return any(model in aliases(m) for m in listed)


def closest(model: str, listed: list[str]) -> str:
    """The listed name nearest ``model`` in spelling (its undated alias where it has one), for "did you
    mean"; always one, however far, so the operator sees a real id to copy."""
    names = sorted({min(aliases(m) - {f"{_DATE.sub('', m)}-latest", f"{_DATE.sub('', m)}-0"}, key=len)
                    for m in listed})
    return max(names, key=lambda name: (difflib.SequenceMatcher(None, model, name).ratio(), name))
