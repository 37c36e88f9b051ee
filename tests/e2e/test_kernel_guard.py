"""A page's kernel obeys only its own person's browser, and only for widget messages: code sent
over the kernel's websocket never runs, and another signed-in person cannot attach to it."""

import re
import uuid

import pytest

pytestmark = pytest.mark.browser

SEND = """async ([url, code]) => await new Promise((resolve) => {
  const ws = new WebSocket(url);
  const header = (type) => ({msg_id: crypto.randomUUID(), msg_type: type, username: '',
    session: 'probe', version: '5.3', date: ''});
  ws.onopen = () => {
    for (const type of ['execute_request', 'complete_request', 'inspect_request']) {
      ws.send(JSON.stringify({channel: 'shell', header: header(type), parent_header: {},
        metadata: {}, content: {code, cursor_pos: 0, silent: false, store_history: false,
        user_expressions: {}, allow_stdin: false}, buffers: []}));
    }
    setTimeout(() => { ws.close(); resolve('opened'); }, 2500);
  };
  ws.onerror = () => resolve('refused');
})"""


def _open_reflection(server, page, name):
    server.sign_in(page, name)  # the sign-in leads to the reflection app: its page is open
    assert page.url == server.url("reflection.ipynb")
    found = re.search(r'"kernelId":\s*"([0-9a-f-]{36})"', page.content())
    assert found, "the page names its kernel"
    return found.group(1)


def test_code_sent_to_a_kernel_never_runs_and_others_cannot_attach(voila_server, browser, tmp_path):
    marker = tmp_path / f"ran-{uuid.uuid4().hex}"
    code = f"open({str(marker)!r}, 'w').write('ran')"
    owner = browser.new_context()
    page = owner.new_page()
    kernel = _open_reflection(voila_server, page, "Kim Kernel")
    url = f"ws://127.0.0.1:{voila_server.port}/api/kernels/{kernel}/channels?session_id=probe"
    # the page's own person: the socket opens, but execute/complete/inspect are dropped
    assert page.evaluate(SEND, [url, code]) == "opened"
    assert not marker.exists()
    # the app still works after the attempt (widget messages pass)
    page.locator(".cop-new").click()
    page.locator("textarea").first.wait_for(timeout=30_000)
    # another signed-in person knowing the kernel id is refused at the door
    other = browser.new_context()
    stranger = other.new_page()
    voila_server.sign_in(stranger, "Sam Stranger")
    stranger.goto(voila_server.base + "/login")
    assert stranger.evaluate(SEND, [url, code]) == "refused"
    assert not marker.exists()
    log = open(voila_server.log.name, encoding="utf-8", errors="replace").read()
    assert 'Received message of type "execute_request", which is not allowed' in log
    owner.close()
    other.close()


def test_another_persons_kernel_cannot_be_read_or_shut_down(voila_server, browser):
    owner = browser.new_context()
    page = owner.new_page()
    kernel = _open_reflection(voila_server, page, "Olga Owner")
    api = f"{voila_server.base}/api/kernels/{kernel}"
    assert page.request.get(api).status == 200  # her own kernel
    other = browser.new_context()
    stranger = other.new_page()
    voila_server.sign_in(stranger, "Max Meddler")
    xsrf = next((c["value"] for c in other.cookies() if c["name"] == "_xsrf"), "")
    headers = {"X-XSRFToken": xsrf}
    assert stranger.request.get(api).status == 404
    assert stranger.request.delete(api, headers=headers).status in (403, 404)
    beacon = f"{voila_server.base}/voila/api/shutdown/{kernel}"
    assert stranger.request.post(beacon, headers=headers).status in (403, 404)
    assert page.request.get(api).status == 200  # still running, still hers
    page.locator(".cop-new").click()  # and the page still works
    page.locator("textarea").first.wait_for(timeout=30_000)
    owner.close()
    other.close()
