"""Did-you-mean suggestions for misspelt names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

#: Comparisons one :class:`Suggestions` makes in all (each costs up to ~8 µs).
BUDGET = 100_000


def nearest(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """The choice closest to ``word``, or '' when none is close enough."""
    found = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=cutoff)
    return found[0] if found else ""


class Suggestions:
    """:func:`nearest` for many words over one set of choices, at a bounded cost.

    Each word is compared with every choice, so a file with thousands of misspelt names among
    thousands of declared ones would cost the product of the two. Here the choices are sorted
    once, each word is answered once, and once ``budget`` comparisons have been made the
    remaining words get no suggestion ('') — their findings are still reported, without the
    did-you-mean.
    """

    def __init__(self, choices: Iterable[str], budget: int = BUDGET,
                 cutoff: float = 0.6) -> None:
        self._choices = sorted(choices)
        self._left = budget
        self._cutoff = cutoff
        self._answers: dict[str, str] = {}

    def __call__(self, word: str) -> str:
        """The choice closest to ``word``, or '' when none is close enough or the budget is
        spent."""
        answer = self._answers.get(word)
        if answer is None:
            if self._left <= 0:
                return ""
            self._left -= len(self._choices)
            found = difflib.get_close_matches(word, self._choices, n=1, cutoff=self._cutoff)
            answer = self._answers[word] = found[0] if found else ""
        return answer
