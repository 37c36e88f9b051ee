"""The page's scripts and styles go out gzipped, each file compressed once.

A participant's first page fetches about 4.9 MB of Voilà's and the widget managers' scripts
and styles (91 files), which Voilà sends uncompressed: a room of 30 joining on one Wi-Fi moves
about 150 MB. Gzipped they are about a quarter of that. Tornado's own `compress_response`
compresses every response again for every person (about 0.1 s of CPU per page on this
machine's cores, at the moment the whole room asks); here a file is compressed the first time
it is asked for and kept in memory under its ETag (Tornado's static files: a hash of the
content, so a changed file is a new entry) or, for the lab extensions' files, which Jupyter
Server sends without one, under its path, modification time and length; later requests get
the kept bytes.

Only static files (the server's static, template and lab-extension folders) are kept: pages,
API answers and widget messages pass through untouched. A Range request, a HEAD request and a
browser that does not accept gzip get the file as it is. When the server starts, it asks
itself for every static file once (compress_ahead), so the room's first pages find them
compressed.
"""

from __future__ import annotations

import logging
import zlib
from pathlib import Path
from urllib.parse import quote

from tornado import httputil
from tornado.httpclient import AsyncHTTPClient
from tornado.web import OutputTransform

log = logging.getLogger("cop_widgets.serving")

COMPRESSIBLE_TYPES = frozenset(
    {
        "application/javascript",
        "text/javascript",
        "text/css",
        "image/svg+xml",
        "application/json",
    }
)
GZIP_CONTAINER = 16 + zlib.MAX_WBITS  # zlib's wbits for a gzip header and trailer
GZIP_LEVEL = 6  # gzip's own default: level 9 is slower for ~1 % smaller files
SMALLEST_WORTH_IT = 1024  # below this the gzip header and a round of work gain nothing
KEPT_AT_MOST = 64 * 2**20  # bytes kept: all of Voilà's static files make 2.9 MiB gzipped


class GzipCache:
    """Compressed static files by their identity (ETag, or path, time and length), up to
    KEPT_AT_MOST bytes (beyond that, files are compressed for each request, as Tornado would)."""

    def __init__(self, limit: int = KEPT_AT_MOST) -> None:
        self.limit = limit
        self.kept: dict[str, bytes] = {}
        self.size = 0
        self.compressions = 0  # files compressed (kept or not): what the tests count

    def get(self, key: str) -> bytes | None:
        return self.kept.get(key)

    def keep(self, key: str, compressed: bytes) -> None:
        self.compressions += 1
        if key not in self.kept and self.size + len(compressed) <= self.limit:
            self.kept[key] = compressed
            self.size += len(compressed)


def static_gzip(prefixes: tuple[str, ...], cache: GzipCache | None = None) -> type:
    """An output transform (tornado.web.Application.add_transform) gzipping the static files
    under the URL path prefixes, from `cache` once each file has been compressed."""
    kept = cache if cache is not None else GzipCache()

    class StaticGzip(OutputTransform):
        cache = kept

        def __init__(self, request: httputil.HTTPServerRequest) -> None:
            self._path = request.path
            self._static = request.method in ("GET", "HEAD") and request.path.startswith(prefixes)
            self._wanted = (
                request.method == "GET"
                and "gzip" in request.headers.get("Accept-Encoding", "")
                and "Range" not in request.headers
            )
            self._mode = ""  # "": as it is; "kept": already sent whole; "compressing"
            self._key = ""

        def transform_first_chunk(
            self, status_code: int, headers: httputil.HTTPHeaders, chunk: bytes, finishing: bool
        ) -> tuple[int, httputil.HTTPHeaders, bytes]:
            if not self._static:
                return status_code, headers, chunk
            ctype = headers.get("Content-Type", "").split(";")[0].strip()
            key = _identity(self._path, headers)
            if ctype not in COMPRESSIBLE_TYPES or not key:
                return status_code, headers, chunk
            # the same URL answers differently by Accept-Encoding: caches must keep both
            headers["Vary"] = ", ".join(filter(None, [headers.get("Vary"), "Accept-Encoding"]))
            size = int(headers.get("Content-Length", "0") or 0) or len(chunk)
            if (
                not self._wanted
                or status_code != 200
                or "Content-Encoding" in headers
                or "Content-Range" in headers
                or size < SMALLEST_WORTH_IT
            ):
                return status_code, headers, chunk
            headers["Content-Encoding"] = "gzip"
            compressed = self.cache.get(key)
            if compressed is not None:
                self._mode = "kept"
                headers["Content-Length"] = str(len(compressed))
                return status_code, headers, compressed
            self._mode, self._key = "compressing", key
            self._parts: list[bytes] = []
            self._compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, GZIP_CONTAINER)
            headers.pop("Content-Length", None)  # sent in chunks as it is compressed
            return status_code, headers, self.transform_chunk(chunk, finishing)

        def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
            if self._mode == "kept":
                return b""  # the whole compressed file went with the first chunk
            if self._mode != "compressing":
                return chunk
            part = self._compressor.compress(chunk)  # b"" until zlib has a block ready
            if finishing:
                part += self._compressor.flush()
            self._parts.append(part)
            if finishing:
                self.cache.keep(self._key, b"".join(self._parts))
            return part

    return StaticGzip


def _identity(path: str, headers: httputil.HTTPHeaders) -> str:
    """What names this version of a static file: its ETag, else its path with its modification
    time and length (a changed file differs in one of them); "" for neither."""
    if etag := headers.get("Etag", ""):
        return etag
    modified, length = headers.get("Last-Modified", ""), headers.get("Content-Length", "")
    return f"{path} {modified} {length}" if modified and length else ""


COMPRESSIBLE_SUFFIXES = (".js", ".css", ".svg", ".json")


def static_files(root: Path) -> list[str]:
    """The compressible files under root, as paths relative to it ("/" separated)."""
    if not root.is_dir():
        return []
    return sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.suffix in COMPRESSIBLE_SUFFIXES and path.is_file()
    )


async def compress_ahead(base: str, paths: list[str], *, validate_cert: bool = True) -> int:
    """GET each of this server's static paths once, gzip accepted, so that their compressed
    bytes are kept before anyone opens a page: a room then costs the server no compression
    when it arrives. One request at a time, while the kernel pools start. Returns how many
    came back whole (200)."""
    client = AsyncHTTPClient()
    answered = 0
    for path in paths:
        try:
            response = await client.fetch(
                base + quote(path),
                headers={"Accept-Encoding": "gzip"},
                decompress_response=False,
                validate_cert=validate_cert,
                raise_error=False,
                request_timeout=30,
            )
        except Exception:  # noqa: BLE001 - ahead of time only: a page compresses it later
            log.debug("compressing %s ahead failed", path, exc_info=True)
            continue
        answered += response.code == 200
    return answered
