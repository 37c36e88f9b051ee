"""Which paths a Voilà server of ours serves: the notebooks directly in its folder, nothing else.

A requested path is normalised before it is judged, so no spelling reaches anything else:
percent-encoding is undone (repeatedly: `%252e` is `%2e` is `.`), backslashes count as
slashes, repeated slashes and `.` segments go, `..` steps back (and a step above the served
folder is refused), and the name is matched to the folder's own listing without regard to
case. What is left must be one `<name>.ipynb` file that sits in the served folder itself (not
in a subfolder, not hidden, not a link to somewhere else). Everything else (folders, other
files, the store, report templates, the review app for the participants' server) is not
served: callers answer 404.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote

# A served notebook's file name: plain ASCII, no leading dot, no separator.
SERVED_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}\.ipynb$")
_MAX_DECODES = 4


def normalised_segments(path: str | None) -> list[str] | None:
    """The path's segments after decoding and resolving `.`/`..`; None if it leaves the root
    or cannot be read."""
    text = path or ""
    try:
        for _ in range(_MAX_DECODES):
            decoded = unquote(text, errors="strict")
            if decoded == text:
                break
            text = decoded
        else:
            return None  # still encoded after several rounds: not a real name
    except UnicodeDecodeError:
        return None
    if "\x00" in text or any(ord(ch) < 32 for ch in text):
        return None
    segments: list[str] = []
    for part in text.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not segments:
                return None  # above the served folder
            segments.pop()
            continue
        segments.append(part)
    return segments


def is_root(path: str | None) -> bool:
    """The path names the served folder itself (``""``, ``/``, ``./``, ``a/..`` ...)."""
    return normalised_segments(path) == []


def served_notebooks(root: str | os.PathLike) -> list[str]:
    """The notebooks the server serves: `<name>.ipynb` files directly in `root`, sorted."""
    base = Path(root).resolve()
    try:
        names = os.listdir(base)
    except OSError:
        return []
    return sorted(name for name in names if _is_served_file(base, name))


def served_notebook(root: str | os.PathLike, path: str | None) -> str | None:
    """The file name of the served notebook `path` asks for, or None (answer 404)."""
    segments = normalised_segments(path)
    if not segments or len(segments) != 1:
        return None
    wanted = segments[0]
    if not wanted.isascii() or not SERVED_NAME.match(wanted.lower()):
        return None
    names = served_notebooks(root)
    if wanted in names:
        return wanted
    folded = [name for name in names if name.lower() == wanted.lower()]
    return folded[0] if len(folded) == 1 else None


def _is_served_file(base: Path, name: str) -> bool:
    if not SERVED_NAME.match(name):
        return False
    candidate = base / name
    if candidate.is_symlink() or not candidate.is_file():
        return False
    return candidate.resolve().parent == base
