"""Rules for free text and names arriving from a browser: checked in the kernel, never trusted."""

from __future__ import annotations

import re
import unicodedata

from cop_widgets.errors import InvalidInput
from cop_widgets.settings import MAX_ANSWER_CHARS, MAX_NAME_CHARS

# C0 controls other than tab, newline and carriage return, plus DEL: never typed on purpose,
# and NUL truncates text in SQL functions.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Bidi overrides and isolates can reorder what is displayed around a name (Trojan Source).
_BIDI_CONTROL = re.compile(r"[\u202a-\u202e\u2066-\u2069]")


def _describe_control(ch: str) -> str:
    return "a NUL character" if ch == "\x00" else f"the control character U+{ord(ch):04X}"


def check_answer(text: str, label: str, limit: int = MAX_ANSWER_CHARS) -> str:
    """Return the text to store for one answer, or raise InvalidInput naming the stage.

    Text is kept exactly as typed (emoji, right-to-left scripts, combining marks untouched);
    an answer that is only white space is stored as empty.
    """
    if not isinstance(text, str):
        raise InvalidInput(label, f"{label}: the answer is not text; retype it.")
    if len(text) > limit:
        raise InvalidInput(
            label,
            f"{label}: the answer is {len(text):,} characters; the limit is {limit:,}. "
            "Shorten it (your text is still here) and save again.",
        )
    bad = _SURROGATE.search(text)
    if bad:
        raise InvalidInput(
            label,
            f"{label}: character {bad.start() + 1} cannot be stored (a broken character, "
            "often from copy and paste). Delete and retype it, then save again.",
        )
    bad = _CONTROL.search(text)
    if bad:
        raise InvalidInput(
            label,
            f"{label}: character {bad.start() + 1} is {_describe_control(bad.group())}, "
            "which cannot be stored. Delete it, then save again.",
        )
    return text if text.strip() else ""


def clean_display_name(name: str) -> str:
    """A display name as shown to others: NFC, no controls or bidi overrides, trimmed."""
    if not isinstance(name, str):
        raise InvalidInput("display name", "The display name is not text; retype it.")
    if _SURROGATE.search(name) or "\x00" in name:
        raise InvalidInput(
            "display name", "Your name has a character that cannot be stored; retype it."
        )
    cleaned = _BIDI_CONTROL.sub("", _CONTROL.sub("", unicodedata.normalize("NFC", name)))
    cleaned = _without_format_characters(cleaned)
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        raise InvalidInput("display name", "Enter a display name (a first name or nickname).")
    if len(cleaned) > MAX_NAME_CHARS:
        raise InvalidInput(
            "display name", f"Keep your display name under {MAX_NAME_CHARS} characters."
        )
    return cleaned


# Letters that render like a Latin letter in common fonts (Cyrillic, Greek, and a few others):
# enough to stop "Аna" (Cyrillic A) passing for "Ana". Applied after case folding; l, 1 and |
# meet i, since capital I and small l look alike in many fonts.
_LOOKALIKES = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
        "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d",
        "α": "a", "β": "b", "ε": "e", "ζ": "z", "η": "h", "ι": "i", "κ": "k", "μ": "m",
        "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "y", "χ": "x", "ı": "i", "l": "i",
        "1": "i", "|": "i", "ǀ": "i", "0": "o",
    }
)  # fmt: skip


def _without_format_characters(text: str) -> str:
    # Format characters (zero-width space and joiners, soft hyphen, bidi marks) are invisible:
    # a name with one appended must not become a second person who looks identical.
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def name_key(name: str) -> str:
    """How names are compared for sign-in: NFKC, no invisible characters, spacing and case
    ignored."""
    text = _without_format_characters(unicodedata.normalize("NFKC", name))
    return " ".join(text.split()).casefold()


def name_skeleton(name: str) -> str:
    """What a name looks like: accents, look-alike letters, spaces and punctuation ignored.
    Two people whose names share a skeleton could be mistaken for each other."""
    text = _without_format_characters(unicodedata.normalize("NFKC", name)).casefold()
    text = unicodedata.normalize("NFKD", text.translate(_LOOKALIKES))
    return "".join(ch for ch in text if ch.isalnum())
