"""A header's cards looked up by key, where the first meaningful card of a key wins.

Cards come in file order: the primary header's, then (when merged) the first image extension's.
Taking the first meaningful card of a key therefore gives the primary header's value, with the
extension filling only what the primary lacks, and a later placeholder (`OBSTYPE = 0`, a blank
`DATE-OBS`) never erases a real value. What "meaningful" is depends on the value wanted (a
target, a number, a date), so lookups take a function that turns a card into a value or None.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

from .model import Card, CardValue

T = TypeVar("T")
COMMENTARY_KEYS = frozenset({"", "COMMENT", "HISTORY", "CONTINUE"})
# Values that say "nothing here", whatever the keyword.
PLACEHOLDERS = frozenset(
    {"", "?", "??", "???", "-", "--", "---", "*", "n/a", "na", "none", "null", "nil"}
    | {"unknown", "undefined", "undef", "not set", "notset", "not used", "not_used"}
)


class HeaderValues:
    """Upper-case key -> its cards in file order (commentary cards left out)."""

    def __init__(self, cards: Iterable[Card]) -> None:
        self._cards: dict[str, list[Card]] = {}
        for card in cards:
            key = normal_key(card.key)
            if key not in COMMENTARY_KEYS:
                self._cards.setdefault(key, []).append(card)

    @classmethod
    def of(cls, values: "Mapping[str, CardValue] | HeaderValues") -> "HeaderValues":
        """From a mapping key -> value (comments empty), or as is."""
        if isinstance(values, HeaderValues):
            return values
        return cls(Card(key, value, "") for key, value in values.items())

    def names(self) -> list[str]:
        return list(self._cards)

    def cards(self, key: str) -> list[Card]:
        return self._cards.get(key, [])

    def first(self, keys: Sequence[str], read: Callable[[Card], T | None]) -> tuple[T, str] | None:
        """The first value `read` accepts, trying each key's cards in order, with its key."""
        for key in keys:
            for card in self._cards.get(key, ()):
                found = read(card)
                if found is not None:
                    return found, key
        return None

    def value(self, key: str, read: Callable[[Card], T | None]) -> T | None:
        found = self.first((key,), read)
        return found[0] if found else None

    def text(self, key: str) -> str | None:
        """The first meaningful text of `key` (see `text_of`)."""
        return self.value(key, text_of)


def normal_key(key: str) -> str:
    """Upper case, without the HIERARCH prefix (astropy drops it, XISF keeps it)."""
    key = key.strip().upper()
    return key.removeprefix("HIERARCH ").strip() if key.startswith("HIERARCH ") else key


def text_of(card: Card) -> str | None:
    """A string value that is not blank or a placeholder, stripped; numbers as text."""
    value = card.value
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip()
    return None if text.lower() in PLACEHOLDERS else text


def number_of(card: Card) -> float | None:
    """A finite number from a number or a numeric string (`'120.00  '`)."""
    value = card.value
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip().replace("D", "E").replace("d", "e"))
        except ValueError:
            return None
    try:
        number = float(value)
    except (OverflowError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None
