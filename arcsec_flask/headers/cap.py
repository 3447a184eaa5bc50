"""The cap on the cards a header keeps (issue 11): a 16 MB XISF header once became 370,000
cards and 15.6 MB of JSON in one row, and its header page took 8 s.

Values are derived from every card first (summary.py); only what is stored is capped: the
first cards are kept, up to MAX_CARDS cards or MAX_TEXT characters of keys, values and
comments, and a final COMMENT card says how many were dropped. A single value longer than
MAX_VALUE characters is cut (a writer's 15 MB property must not take the whole budget).
"""

from .model import Card

MAX_CARDS = 10_000
MAX_TEXT = 2_000_000  # characters of key + value + comment, about 2-3 MB of JSON
MAX_VALUE = 65_536
CUT_MARK = " [cut by the server]"
TRUNCATED_KEY = "COMMENT"
TRUNCATED_COMMENT = "arcsec_flask: header truncated"


def cap_cards(cards: list[Card]) -> list[Card]:
    """`cards` as they are when within the caps; else the first ones, then a COMMENT card
    saying how many of how many were kept (so the header shows it was truncated)."""
    kept: list[Card] = []
    text = 0
    values_cut = 0
    for card in cards:
        if isinstance(card.value, str) and len(card.value) > MAX_VALUE:
            card = Card(card.key, card.value[:MAX_VALUE] + CUT_MARK, card.comment)
            values_cut += 1
        size = len(card.key) + len(str(card.value)) + len(card.comment)
        if len(kept) >= MAX_CARDS or text + size > MAX_TEXT:
            break
        kept.append(card)
        text += size
    if len(kept) == len(cards) and not values_cut:
        return cards
    return [*kept, truncation_card(len(kept), len(cards), values_cut)]


def truncation_card(kept: int, total: int, values_cut: int = 0) -> Card:
    message = f"Header truncated by the server: the first {kept:,} of {total:,} cards are kept"
    if values_cut:
        message += f"; {values_cut:,} overlong value(s) cut to {MAX_VALUE:,} characters"
    return Card(TRUNCATED_KEY, message + ".", TRUNCATED_COMMENT)


def is_truncated(cards: list[Card]) -> bool:
    """Whether `cards` end with the card cap_cards adds."""
    return bool(cards) and cards[-1].comment == TRUNCATED_COMMENT and cards[-1].key == TRUNCATED_KEY
