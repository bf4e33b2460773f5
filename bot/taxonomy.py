"""Incident categories and parties to a conflict, as codes.

Labels live in the message catalogs (``category-<code>``, ``party-<code>``); the codes, their
order and the Rome Statute references for investigators live here. Which codes the bot offers
is configurable (``TIPBOT_CATEGORIES``, ``TIPBOT_PARTIES``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    rome_statute: str


CATEGORIES: tuple[Category, ...] = (
    Category("strike", "8(2)(b)(i), (ii), (iv)"),
    Category("protected_site", "8(2)(b)(ix), (xxiv)"),
    Category("killing", "8(2)(a)(i), (b)(vi)"),
    Category("torture", "8(2)(a)(ii), (b)(xxi)"),
    Category("detention", "8(2)(a)(vii), (viii); 7(1)(i)"),
    Category("sexual_violence", "8(2)(b)(xxii); 7(1)(g)"),
    Category("deportation", "8(2)(a)(vii), (b)(viii); 7(1)(d)"),
    Category("looting", "8(2)(a)(iv), (b)(xiii), (xvi)"),
    Category("pow", "8(2)(a)(ii), (iii), (vi), (b)(vi), (xxi)"),
    Category("perfidy", "8(2)(b)(vii), (xi), (xxiii)"),
    Category("weapons", "8(2)(b)(xvii)-(xx)"),
    Category("forced_service", "8(2)(a)(v), (b)(xv)"),
    Category("starvation", "8(2)(b)(xxv)"),
    Category("bodies", ""),
    Category("other", ""),
)

CATEGORY_CODES: tuple[str, ...] = tuple(c.code for c in CATEGORIES)
_BY_CODE = {c.code: c for c in CATEGORIES}

# Parties a reporter can name. "unknown" and "other" are always offered besides these,
# so that the bot never presumes who did it (DOMAIN: neutrality).
PARTY_CODES: tuple[str, ...] = ("russia", "ukraine")
PERPETRATOR_UNKNOWN = "unknown"
PERPETRATOR_OTHER = "other"


def rome_statute_reference(code: str) -> str:
    """The Rome Statute articles investigators associate with a category ('' if none)."""
    category = _BY_CODE.get(code)
    return category.rome_statute if category else ""
