"""The page bundle (serving/page_bundle.py): the recorded chunks joined in one script, read from
the folders the server serves them from, made only when the list matches what is installed,
and sent by a real Tornado server gzipped or plain, cached for good under its digest. (In real
Chromium, every served page finding its chunks there: tests/e2e/test_every_page.py; a first
visit's files: tests/e2e/test_page_weight.py.)"""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import pytest
from tornado.testing import AsyncHTTPTestCase
from tornado.web import Application

from cop_widgets.serving import page_bundle
from cop_widgets.serving.page_bundle import (
    PAGE_CONFIG_KEY,
    PageBundleHandler,
    build,
    bundle_enabled,
    page_config_hook,
    read_recorded,
)

WIDGETS = "@jupyter-widgets/jupyterlab-manager"
RECORDED = {
    "voila": "0.5.13",
    "core": ["2.voila.js", "1.voila.js"],
    "labextensions": {WIDGETS: ["static/7.abc.js"], "@other/extension": ["static/9.def.js"]},
}


def chunk(number: int) -> bytes:
    return (
        b"(self.webpackChunk=self.webpackChunk||[]).push([[%d],{%d:()=>{}}]);"
        b"//# sourceMappingURL=%d.js.map" % (number, number, number)
    )


@pytest.fixture
def folders(tmp_path: Path) -> dict:
    """Two static folders (a template's, then Voilà's) and a lab extensions folder."""
    template, voila, labextensions = tmp_path / "template", tmp_path / "voila", tmp_path / "lab"
    for folder in (template, voila):
        folder.mkdir()
    (template / "2.voila.js").write_bytes(chunk(2))
    (voila / "2.voila.js").write_bytes(b"shadowed: the template folder's comes first")
    (voila / "1.voila.js").write_bytes(chunk(1))
    for extension, name, number in ((WIDGETS, "7.abc.js", 7), ("@other/extension", "9.def.js", 9)):
        (labextensions / extension / "static").mkdir(parents=True)
        (labextensions / extension / "static" / name).write_bytes(chunk(number))
    return {"static": [template, voila], "lab": [tmp_path / "elsewhere", labextensions]}


def test_the_recorded_chunks_are_joined_in_order_from_the_first_folder_holding_each(folders):
    bundle, why = build(folders["static"], folders["lab"], [WIDGETS], "0.5.13", RECORDED)
    assert why == "" and bundle is not None
    # 2 from the template's folder, then 1, then the allowed extension's chunk only
    assert bundle.script == chunk(2) + b"\n" + chunk(1) + b"\n" + chunk(7) + b"\n"
    assert bundle.chunks == 3
    assert gzip.decompress(bundle.gzipped) == bundle.script
    assert len(bundle.gzipped) < len(bundle.script)
    # every recorded extension when the server allows all of them
    everything, _ = build(folders["static"], folders["lab"], None, "0.5.13", RECORDED)
    assert everything is not None and everything.chunks == 4


def test_a_changed_chunk_gives_a_new_name_and_the_same_files_the_same_bytes(folders):
    first, _ = build(folders["static"], folders["lab"], [WIDGETS], "0.5.13", RECORDED)
    again, _ = build(folders["static"], folders["lab"], [WIDGETS], "0.5.13", RECORDED)
    assert first is not None and again is not None
    assert (again.name, again.gzipped) == (first.name, first.gzipped)  # same ETag after restart
    (folders["static"][1] / "1.voila.js").write_bytes(chunk(1) + b"/* a new build */")
    changed, _ = build(folders["static"], folders["lab"], [WIDGETS], "0.5.13", RECORDED)
    assert changed is not None and changed.name != first.name and changed.name.endswith(".js")


def test_another_voila_version_or_a_missing_chunk_gives_no_bundle_and_says_why(folders):
    bundle, why = build(folders["static"], folders["lab"], [WIDGETS], "0.6.0", RECORDED)
    assert bundle is None
    assert "recorded for Voilà 0.5.13" in why and "0.6.0 is installed" in why
    (folders["static"][1] / "1.voila.js").unlink()
    bundle, why = build(folders["static"], folders["lab"], [WIDGETS], "0.5.13", RECORDED)
    assert bundle is None and why == "Voilà's chunk 1.voila.js was not found"
    (folders["static"][1] / "1.voila.js").write_bytes(chunk(1))
    # a new widgets build: its chunk names carry their content's hash
    (folders["lab"][1] / WIDGETS / "static" / "7.abc.js").rename(
        folders["lab"][1] / WIDGETS / "static" / "7.new.js"
    )
    bundle, why = build(folders["static"], folders["lab"], [WIDGETS], "0.5.13", RECORDED)
    assert bundle is None and why == f"the chunk static/7.abc.js of {WIDGETS} was not found"
    empty = {"voila": "0.5.13", "core": [], "labextensions": {}}
    assert build(folders["static"], folders["lab"], None, "0.5.13", empty)[0] is None


def test_the_committed_list_matches_the_installed_voila_and_widgets(monkeypatch):
    """Fails after an upgrade of Voilà or ipywidgets: record the list again (the module's
    docstring says how)."""
    import voila
    from voila.paths import collect_static_paths
    from voila.utils import get_voila_labextensions_path

    from cop_widgets.serving import voila_environment

    # the folders `cop serve` looks in: the cop template's, its parents', Voilà's own
    monkeypatch.setenv("JUPYTER_PATH", voila_environment()["JUPYTER_PATH"])
    static = collect_static_paths(["voila", "nbconvert"], "cop")
    bundle, why = build(
        static, get_voila_labextensions_path(), None, voila.__version__, read_recorded()
    )
    assert bundle is not None, why
    assert bundle.chunks > 50 and len(bundle.script) > 3 * 2**20
    assert set(read_recorded()["labextensions"]) == {WIDGETS, "@voila-dashboards/widgets-manager8"}


def test_the_page_config_gets_the_bundle_url_under_the_server_base_url(folders):
    bundle, _ = build(folders["static"], folders["lab"], [WIDGETS], "0.5.13", RECORDED)
    assert bundle is not None
    hook = page_config_hook(bundle)
    config = hook({"baseUrl": "/"}, base_url="/services/cop/", notebook_path="a.ipynb")
    assert config[PAGE_CONFIG_KEY] == f"/services/cop/voila/cop-bundle/{bundle.digest}.js"
    assert hook({}, base_url="/")[PAGE_CONFIG_KEY] == f"/voila/cop-bundle/{bundle.digest}.js"

    def earlier(config, **kwargs):  # a hook configured before: it still runs
        return {**config, "earlier": kwargs["notebook_path"]}

    chained = page_config_hook(bundle, earlier)({}, base_url="/", notebook_path="b.ipynb")
    assert chained["earlier"] == "b.ipynb" and PAGE_CONFIG_KEY in chained


def test_cop_page_bundle_0_turns_it_off():
    assert bundle_enabled({}) and bundle_enabled({"COP_PAGE_BUNDLE": "1"})
    assert not bundle_enabled({"COP_PAGE_BUNDLE": "0"})


def test_an_unreadable_list_is_an_error_naming_the_file(tmp_path):
    broken = tmp_path / "page_chunks.json"
    broken.write_text('{"voila": "0.5.13", "core": "1.voila.js"}')
    with pytest.raises(ValueError, match="page_chunks.json: expected the keys"):
        read_recorded(broken)


class TestTheBundleOverHttp(AsyncHTTPTestCase):
    def get_app(self):
        self._folder = tempfile.TemporaryDirectory()
        folder = Path(self._folder.name)
        (folder / "1.voila.js").write_bytes(chunk(1) * 200)
        only_one = {"voila": "0.5.13", "core": ["1.voila.js"], "labextensions": {}}
        self.bundle, _ = build([folder], [], None, "0.5.13", only_one)
        assert self.bundle is not None
        route = "/" + page_bundle.ROUTE + "(.*)"
        return Application([(route, PageBundleHandler, {"bundle": self.bundle})])

    def tearDown(self):
        super().tearDown()
        self._folder.cleanup()

    def url(self, name: str | None = None) -> str:
        return "/voila/cop-bundle/" + (self.bundle.name if name is None else name)

    def test_gzipped_for_a_browser_that_takes_gzip_and_cached_for_good(self):
        answer = self.fetch(
            self.url(), headers={"Accept-Encoding": "gzip"}, decompress_response=False
        )
        assert answer.code == 200
        assert answer.headers["Content-Encoding"] == "gzip"
        assert answer.headers["Content-Type"].startswith("application/javascript")
        assert "immutable" in answer.headers["Cache-Control"]
        assert answer.headers["Vary"] == "Accept-Encoding"
        assert gzip.decompress(answer.body) == self.bundle.script
        again = self.fetch(
            self.url(),
            headers={"Accept-Encoding": "gzip", "If-None-Match": answer.headers["Etag"]},
            decompress_response=False,
        )
        assert again.code == 304 and again.body == b""

    def test_plain_for_a_client_without_gzip(self):
        # Tornado's client asks for gzip unless it is told not to decompress
        answer = self.fetch(self.url(), decompress_response=False)
        assert answer.code == 200 and "Content-Encoding" not in answer.headers
        assert answer.body == self.bundle.script
        assert answer.headers["Etag"] == f'"{self.bundle.digest}"'

    def test_a_head_request_sends_the_length_and_no_body(self):
        answer = self.fetch(self.url(), method="HEAD", decompress_response=False)
        assert answer.code == 200 and answer.body == b""
        assert int(answer.headers["Content-Length"]) == len(self.bundle.script)

    def test_any_other_name_is_not_found(self):
        for name in ("0" * 20 + ".js", "", "../1.voila.js", self.bundle.digest):
            assert self.fetch(self.url(name)).code == 404, name
