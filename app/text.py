"""The one text normaliser for comparing words people typed: statuses, conditions, feature
names, titles. Flask-free, so connectors use it too."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

_SEPARATORS = re.compile(r"[\W_]+")


def fold(value: Any) -> str:
    """Accents stripped, case folded, and every run of spaces and punctuation (``_``, ``-``,
    ``/``, ``!``, non-breaking spaces) one space: ``"Sale-Pending "`` and ``"sale pending"``
    compare equal, ``"Ocasión"`` and ``"ocasion"`` too. Letters of other scripts are kept."""
    decomposed = unicodedata.normalize("NFKD", str(value))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_SEPARATORS.sub(" ", plain.casefold()).split())
