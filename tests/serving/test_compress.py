"""Static scripts and styles go out gzipped, each file compressed once (serving/compress.py),
through a real Tornado server on localhost with the static handlers Voilà and Jupyter Server
use; what the browser decodes is the file, byte for byte."""

from __future__ import annotations

import gzip
import os
import shutil
import time
from pathlib import Path

import pytest
from tornado.testing import AsyncHTTPTestCase
from tornado.web import Application, RequestHandler, StaticFileHandler

from cop_widgets.serving.compress import (
    SMALLEST_WORTH_IT,
    GzipCache,
    compress_ahead,
    static_files,
    static_gzip,
)

SCRIPT = b"".join(
    b"var line%d = 'the page script, long enough to span chunks';\n" % n for n in range(4000)
)
STYLE = b".cop-app { color: #1a1a1a; }\n" * 200


class Dynamic(RequestHandler):
    """An answer that is not a static file, with a script's type and an ETag all the same."""

    def get(self, _path):
        self.set_header("Content-Type", "application/javascript")
        self.set_header("Etag", '"dynamic"')
        self.write(SCRIPT)


class WithoutEtag(StaticFileHandler):
    """As Jupyter Server's FileFindHandler sends the lab extensions' files: no ETag, only their
    modification time (it needs a whole Jupyter server's settings to run by itself)."""

    def compute_etag(self):
        return None


class Base(AsyncHTTPTestCase):
    def get_app(self):
        self.folder = self.get_folder()
        self.cache = GzipCache()
        app = Application(
            [
                (r"/voila/static/(.*)", StaticFileHandler, {"path": self.folder}),
                (r"/voila/labextensions/(.*)", WithoutEtag, {"path": self.folder}),
                (r"/voila/api/(.*)", Dynamic),
            ]
        )
        app.add_transform(static_gzip(("/voila/static/", "/voila/labextensions/"), self.cache))
        return app

    def get_folder(self) -> str:
        import tempfile

        folder = tempfile.mkdtemp(prefix="cop-gzip-")
        self.addCleanup(shutil.rmtree, folder, ignore_errors=True)
        self.write_file(folder, "main.js", SCRIPT)
        self.write_file(folder, "style.css", STYLE)
        self.write_file(folder, "tiny.js", b"var x = 1;\n")
        self.write_file(folder, "font.woff2", os.urandom(4096))
        return folder

    @staticmethod
    def write_file(folder: str, name: str, content: bytes) -> None:
        with open(os.path.join(folder, name), "wb") as out:
            out.write(content)

    def get(self, path: str, **headers):
        # decompress_response=False: the bytes as they crossed the network
        return self.fetch(path, headers=headers, decompress_response=False)


class TestStaticGzip(Base):
    def test_a_script_goes_out_gzipped_and_is_compressed_once(self):
        first = self.get("/voila/static/main.js", **{"Accept-Encoding": "gzip, deflate"})
        assert first.code == 200
        assert first.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in first.headers["Vary"]
        assert gzip.decompress(first.body) == SCRIPT
        assert len(first.body) < len(SCRIPT) / 4, (len(first.body), len(SCRIPT))
        second = self.get("/voila/static/main.js", **{"Accept-Encoding": "gzip"})
        assert second.body == first.body  # the kept bytes
        assert int(second.headers["Content-Length"]) == len(second.body)
        assert self.cache.compressions == 1

    def test_styles_and_lab_extension_files_without_an_etag_too(self):
        style = self.get("/voila/static/style.css", **{"Accept-Encoding": "gzip"})
        assert gzip.decompress(style.body) == STYLE
        lab = self.get("/voila/labextensions/main.js", **{"Accept-Encoding": "gzip"})
        assert "Etag" not in lab.headers  # as Jupyter Server's: keyed by path, time and length
        assert lab.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(lab.body) == SCRIPT
        again = self.get("/voila/labextensions/main.js", **{"Accept-Encoding": "gzip"})
        assert again.body == lab.body
        assert self.cache.compressions == 2  # the style and the lab file, once each

    def test_a_changed_file_is_compressed_anew(self):
        self.get("/voila/static/main.js", **{"Accept-Encoding": "gzip"})
        changed = SCRIPT.replace(b"page script", b"new  script")
        self.write_file(self.folder, "main.js", changed)
        StaticFileHandler.reset()  # Tornado keeps each file's hash until told
        later = time.time() + 5
        os.utime(os.path.join(self.folder, "main.js"), (later, later))
        for path in ("/voila/static/main.js", "/voila/labextensions/main.js"):
            answer = self.get(path, **{"Accept-Encoding": "gzip"})
            assert gzip.decompress(answer.body) == changed, path

    def test_without_gzip_in_accept_encoding_the_file_goes_as_it_is(self):
        answer = self.get("/voila/static/main.js")
        assert "Content-Encoding" not in answer.headers
        assert answer.body == SCRIPT
        assert "Accept-Encoding" in answer.headers["Vary"]  # a shared cache keeps both

    def test_a_range_request_gets_the_plain_bytes_asked_for(self):
        answer = self.get(
            "/voila/static/main.js", **{"Accept-Encoding": "gzip", "Range": "bytes=10-19"}
        )
        assert answer.code == 206
        assert "Content-Encoding" not in answer.headers
        assert answer.body == SCRIPT[10:20]

    def test_a_head_request_and_an_unchanged_file_send_no_body(self):
        head = self.fetch(
            "/voila/static/main.js", method="HEAD", headers={"Accept-Encoding": "gzip"}
        )
        assert head.code == 200 and head.body == b""
        etag = self.get("/voila/static/main.js", **{"Accept-Encoding": "gzip"}).headers["Etag"]
        unchanged = self.get(
            "/voila/static/main.js", **{"Accept-Encoding": "gzip", "If-None-Match": etag}
        )
        assert unchanged.code == 304 and unchanged.body == b""

    def test_small_files_fonts_and_dynamic_answers_pass_untouched(self):
        tiny = self.get("/voila/static/tiny.js", **{"Accept-Encoding": "gzip"})
        assert len(b"var x = 1;\n") < SMALLEST_WORTH_IT
        assert "Content-Encoding" not in tiny.headers and tiny.body == b"var x = 1;\n"
        font = self.get("/voila/static/font.woff2", **{"Accept-Encoding": "gzip"})
        assert "Content-Encoding" not in font.headers and len(font.body) == 4096
        dynamic = self.get("/voila/api/anything", **{"Accept-Encoding": "gzip"})
        assert "Content-Encoding" not in dynamic.headers and dynamic.body == SCRIPT
        assert self.cache.compressions == 0


class TestCompressedAhead(Base):
    def test_the_server_compresses_its_files_before_the_first_page(self):
        names = static_files(Path(self.folder))
        assert names == ["main.js", "style.css", "tiny.js"]  # no font: it is compressed already
        paths = [f"/voila/static/{name}" for name in names] + ["/voila/labextensions/main.js"]
        paths.append("/voila/static/missing.js")
        answered = self.io_loop.run_sync(lambda: compress_ahead(self.get_url(""), paths))
        assert answered == 4  # the missing file: 404, and the rest goes on
        assert self.cache.compressions == 3  # tiny.js is not worth it
        for path in ("/voila/static/main.js", "/voila/labextensions/main.js"):
            answer = self.get(path, **{"Accept-Encoding": "gzip"})
            assert gzip.decompress(answer.body) == SCRIPT
        assert self.cache.compressions == 3  # the pages found them kept

    def test_a_server_that_does_not_answer_is_not_an_error(self):
        paths = ["/voila/static/main.js"]
        answered = self.io_loop.run_sync(lambda: compress_ahead("http://127.0.0.1:9", paths))
        assert answered == 0


class TestKeptBytesHaveALimit(Base):
    def get_app(self):
        app = super().get_app()
        self.cache.limit = 10  # nothing fits: each request compresses again, as Tornado would
        return app

    def test_beyond_the_limit_files_are_still_gzipped(self):
        for _ in range(2):
            answer = self.get("/voila/static/main.js", **{"Accept-Encoding": "gzip"})
            assert gzip.decompress(answer.body) == SCRIPT
        assert self.cache.compressions == 2 and self.cache.size == 0


@pytest.fixture(autouse=True)
def _fresh_static_hashes():
    StaticFileHandler.reset()
    yield
    StaticFileHandler.reset()
