"""Finding the cars at fault in a batch a feed refused as a whole, within a bounded number of
requests, so that one bad car cannot hold back a dealer's stock.

A refusal may name some of its culprits (by position in the group sent): those are set aside
and the others go again together, once. A refusal that names nobody splits the group in two
halves and sends the first: if it passes, the second half holds the culprits and is split
without being sent; if it is refused too, both halves are searched. A car refused alone is a
culprit. With ``k`` culprits among ``n`` cars and no names given this takes at most
``2·k·⌈log2 n⌉`` requests (each culprit sits in one refused group per level, and each refused
group costs at most its two halves); one culprit costs about ``1.5·log2 n`` (15 for 1,000
cars). ``max_requests`` caps it, and whatever is still undecided when the cap is reached comes
back as ``unresolved`` for the caller to retry later (smaller, so the next attempt goes deeper).

It knows nothing about any remote: ``send`` posts one group and returns its answer, or raises
:class:`Refused`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Refused(Exception):
    """The remote refused a whole group; ``named`` maps positions in that group to reasons."""

    def __init__(self, message: str, named: Mapping[int, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.named = dict(named or {})


@dataclass
class Bisection(Generic[T, R]):
    answers: list[tuple[list[T], R]] = field(default_factory=list)  # groups taken, with the answer
    culprits: list[tuple[T, str]] = field(default_factory=list)  # items refused, with the reason
    unresolved: list[T] = field(default_factory=list)  # undecided when the budget ran out
    requests: int = 0


def isolate(
    items: Sequence[T],
    refusal: Refused,
    send: Callable[[list[T]], R],
    *,
    max_requests: int,
) -> Bisection[T, R]:
    """``items`` were just refused with ``refusal``: find the culprits, deliver the rest."""
    result: Bisection[T, R] = Bisection()
    # Depth first. ("pair", left, right): left is sent; if it passes, right holds the culprits
    # and is split without being sent. ("one", group): sent as it is.
    todo: deque[tuple[str, list[T], list[T]]] = deque()

    def refused(group: list[T], exc: Refused) -> None:
        named = {i: reason for i, reason in exc.named.items() if 0 <= i < len(group)}
        result.culprits.extend((group[i], reason) for i, reason in sorted(named.items()))
        rest = [item for i, item in enumerate(group) if i not in named]
        if not rest:
            return
        if named:
            todo.appendleft(("one", rest, []))  # the remote said who; the others should pass together
        elif len(rest) == 1:
            result.culprits.append((rest[0], exc.message))
        else:
            middle = len(rest) // 2
            todo.appendleft(("pair", rest[:middle], rest[middle:]))

    refused(list(items), refusal)
    while todo and result.requests < max_requests:
        shape, group, sibling = todo.popleft()
        result.requests += 1
        try:
            result.answers.append((group, send(group)))
        except Refused as exc:
            if shape == "pair":
                todo.appendleft(("one", sibling, []))  # unknown: it is sent after this half is settled
            refused(group, exc)
        else:
            if shape == "pair":  # the whole was refused and this half passed: the other is guilty
                refused(sibling, Refused(refusal.message))
    result.unresolved = [item for _, group, sibling in todo for item in group + sibling]
    return result
