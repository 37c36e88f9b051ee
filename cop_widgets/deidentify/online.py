"""Email addresses and social media handles, with an "@" or without one."""

from __future__ import annotations

import re
from collections.abc import Iterable

from cop_widgets.deidentify.candidates import (
    CLAUSE_BREAK,
    HANDLE_REASON,
    P_EMAIL,
    P_HANDLE,
    REASONS,
    Candidate,
)

# Found by expanding around each "@" with bounded patterns: an unanchored email regex rescans
# the rest of the text from every position and goes quadratic on long runs like "a.a.a.…".
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9._%+'-]{1,64}\Z")
_EMAIL_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9-]{1,63}){1,8}")
_HANDLE = re.compile(r"(?<![\w@.])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{1,29})")


def find_emails_and_handles(text: str) -> Iterable[Candidate]:
    """Email addresses, and "@handles" that are not part of one."""
    for at in (m.start() for m in re.finditer("@", text)):
        local = _EMAIL_LOCAL.search(text, max(0, at - 64), at)
        domain = _EMAIL_DOMAIN.match(text, at + 1, at + 1 + 255)
        if local and domain and re.search(r"\.[A-Za-z]{2,}$", domain.group()):
            start = local.start()
            while start < at and text[start] in "._%+'-":  # no leading punctuation
                start += 1
            if start < at:
                yield Candidate(start, domain.end(), "email", P_EMAIL, REASONS["email"])
                continue
        handle = _HANDLE.match(text, at)
        if handle:
            end = handle.end()
            while text[end - 1] == ".":  # a handle at the end of a sentence
                end -= 1
            yield Candidate(at, end, "name", P_HANDLE, HANDLE_REASON)


# Handles written without "@". A token that ordinary prose never uses ("lil_jayy07",
# "nightowl#4821") is flagged anywhere; one that could be a word or a file name ("kayz.xo.2009",
# "DinoKing2014", "TheRealTradieDad") only near a platform or account word in the same sentence.
_PLATFORM_WORD = re.compile(
    r"\b(?=[acdfghiklmprstuxy])"  # first letters only: halves the time on long texts
    r"(?:instagram|insta|ig|tiktok|snapchat|snap|facebook|fb|messenger|discord|xbox|psn"
    r"|playstation|roblox|fortnite|minecraft|youtube|twitch|twitter|threads|kik|steam|reddit"
    r"|tinder|telegram|handle|username|user\s?name|gamer\s?tag|screen\s?name|account|profile"
    r"|page|channel|posts?|posted|follows?|followed|games)\b",
    re.IGNORECASE,
)
_UNMISTAKABLE_HANDLE = re.compile(
    r"(?<![\w@.#/-])(?:[A-Za-z0-9][A-Za-z0-9.]*_[A-Za-z0-9_.]*|_[A-Za-z0-9][A-Za-z0-9_.]*"
    r"|[A-Za-z][A-Za-z0-9_.]{1,30}#\d{4})(?![\w@/-])"
)
_POSSIBLE_HANDLE = re.compile(
    r"(?<![\w@.#/-])(?=[A-Za-z0-9_.]*(?:\d|[A-Za-z0-9]\.[A-Za-z0-9]|[a-z][A-Z]))"
    r"[A-Za-z0-9][A-Za-z0-9_.]{3,30}(?![\w@/-])"
)
_HANDLE_WINDOW = 50
_CAMEL_CASE = re.compile(r"[a-z][A-Z]")


def _handle_shaped(token: str) -> bool:
    """True for "kayz.xo.2009", "Reaper07", "TheRealTradieDad"; false for words, times, units."""
    letters = sum(ch.isalpha() for ch in token)
    if letters < 3:
        return False
    if "." in token.strip("."):  # a dot between letters or digits, not a full stop
        return token[0].isalpha() and not re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]?", token)
    has_digit = any(ch.isdigit() for ch in token)
    if has_digit:
        return token[0].isalpha() and not token.isupper()  # "sk8r", "DinoKing2014", not "PS5"
    return len(_CAMEL_CASE.findall(token)) >= 2  # "TheRealTradieDad", not "TikTok" or "iPad"


def find_handles_without_at(text: str) -> Iterable[Candidate]:
    """Handles written without "@" (see the comment above)."""
    for m in _UNMISTAKABLE_HANDLE.finditer(text):
        end = m.end()
        while text[end - 1] == ".":
            end -= 1
        if sum(ch.isalpha() for ch in text[m.start() : end]) >= 2:
            yield Candidate(m.start(), end, "name", P_HANDLE, HANDLE_REASON)
    # Only the few characters around each platform word are looked at: fast on long texts.
    seen: set[int] = set()
    for pw in _PLATFORM_WORD.finditer(text):
        lo, hi = max(0, pw.start() - _HANDLE_WINDOW), min(len(text), pw.end() + _HANDLE_WINDOW)
        for m in _POSSIBLE_HANDLE.finditer(text, lo, hi):
            end = m.end()
            while text[end - 1] == ".":
                end -= 1
            between = text[min(end, pw.start()) : max(m.start(), pw.end())]
            if m.start() in seen or CLAUSE_BREAK.search(between):
                continue  # already taken, or in another sentence
            cut_short = m.end() < len(text) and re.match(r"[\w@/-]", text[m.end()])
            if not cut_short and _handle_shaped(text[m.start() : end]):
                seen.add(m.start())
                yield Candidate(m.start(), end, "name", P_HANDLE, HANDLE_REASON)
