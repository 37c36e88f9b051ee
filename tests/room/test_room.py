"""Room mode (`cop serve --room`): the local-network address, the join links and their QR codes,
HTTPS, kernels started ahead for the people expected, bad input; closed tabs' kernels culled;
`cop rehearse`'s verdict. In-process: the server runner is replaced by a recorder, so the command
line and environment `cop serve` would start Voilà with are read, not run."""

import asyncio
import http.client
import http.server
import json
import logging
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import segno

from cop_widgets import cli
from cop_widgets.cli import serve as cli_serve
from cop_widgets.errors import CopWidgetsError
from cop_widgets.room import mode as room
from cop_widgets.services import accounts, roster, sessions
from cop_widgets.services.room import sessions_on
from cop_widgets.serving import ServeOptions, voila_command
from cop_widgets.store import open_store

LAN = "192.168.1.20"


class FakeNetwork:
    """What the system would answer: a route per probed target, the interfaces that are up."""

    def __init__(self, routes=None, interfaces=()):
        self.routes, self._interfaces, self.asked = routes or {}, list(interfaces), []

    def route(self, target):
        self.asked.append(target)
        return self.routes.get(target)

    def interfaces(self):
        return self._interfaces


# -- the address -----------------------------------------------------------------------------------
def test_the_address_is_the_one_a_private_address_is_routed_from():
    net = FakeNetwork(routes={"192.168.0.1": LAN}, interfaces=[("docker0", "172.17.0.1")])
    assert room.lan_address(net) == LAN
    # a route through loopback or a link-local address is not the room's network
    net = FakeNetwork(
        routes={"192.168.0.1": "127.0.0.1", "10.0.0.1": "169.254.7.7", "172.16.0.1": "10.9.8.7"}
    )
    assert room.lan_address(net) == "10.9.8.7"


def test_without_a_route_the_first_private_interface_address_is_taken_link_local_last():
    net = FakeNetwork(
        interfaces=[("lo", "127.0.0.1"), ("eth1", "169.254.3.4"), ("wlan0", "10.1.2.3")]
    )
    assert room.lan_address(net) == "10.1.2.3"
    assert room.lan_address(FakeNetwork(interfaces=[("eth1", "169.254.3.4")])) == "169.254.3.4"
    with pytest.raises(CopWidgetsError, match="no network address"):
        room.lan_address(FakeNetwork(interfaces=[("lo", "127.0.0.1")]))


def test_the_real_probe_only_asks_the_system():
    # a UDP connect() picks a route and sends nothing; no route is an answer, not an error
    found = room.Network().route("10.0.0.1")
    assert found is None or isinstance(found, str)
    assert room.Network().route("127.0.0.1") == "127.0.0.1"


# -- QR codes --------------------------------------------------------------------------------------
# (top, bottom) module of each character, as segno draws them for a dark terminal: a light
# module is drawn (a block), a dark one is left blank
HALF_BLOCKS = {" ": (1, 1), "\u2580": (0, 1), "\u2584": (1, 0), "\u2588": (0, 0)}


def read_qr(text: str) -> list[list[int]]:
    """The modules (1 dark) of a QR code drawn by room.qr_code, read back from its characters,
    without its quiet zone."""
    rows = []
    for line in text.splitlines():
        pairs = [HALF_BLOCKS[ch] for ch in line]
        rows.append([top for top, _ in pairs])
        rows.append([bottom for _, bottom in pairs])
    border = 4
    size = len(rows[0]) - 2 * border
    return [row[border : border + size] for row in rows[border : border + size]]


def test_the_qr_code_holds_the_url_it_is_printed_under():
    url = f"http://{LAN}:8866/voila/render/session.ipynb?code=K7M2QX"
    drawn = read_qr(room.qr_code(url))
    expected = segno.make_qr(url, error="m")
    assert not expected.is_micro  # phones read regular QR codes
    assert drawn == [list(row) for row in expected.matrix]
    other = segno.make_qr(url.replace("K7M2QX", "K7M2QY"), error="m")
    assert drawn != [list(row) for row in other.matrix]


# -- `cop serve --room` ----------------------------------------------------------------------------
@pytest.fixture
def served(monkeypatch, data_dir):
    """`cop serve` with this data folder, a fake room network, and a recorder for the server it
    would start."""
    monkeypatch.setenv("COP_DATA_DIR", str(data_dir))
    monkeypatch.delenv("COP_DATABASE_URL", raising=False)
    monkeypatch.delenv("COP_PUBLIC_URL", raising=False)
    monkeypatch.setattr(room, "NETWORK", FakeNetwork(routes={"192.168.0.1": LAN}))
    started = []
    monkeypatch.setattr(cli_serve, "run_server", lambda cmd, env: started.append((cmd, env)) or 0)
    return started


def _pools(cmd: list[str]) -> dict[str, int]:
    flag = next(a for a in cmd if a.startswith("--VoilaKernelManager.kernel_pools_config="))
    config = json.loads(flag.split("=", 1)[1])
    return {name: value["pool_size"] for name, value in config.items()}


def _session_today(data_dir, members: int, hour: int = 10):
    store = open_store(cli_settings(data_dir))
    try:
        coord = accounts.add_person(store, "Cora Coordinator")
        roster.grant_role(store, coord.id, "coordinator")
        cop = sessions.create_community(store, coord, "Kinship carers CoP")
        for n in range(members - 1):  # the coordinator is a member too
            who = accounts.add_person(store, f"Member {n:02d}")
            sessions.add_member(store, coord, cop.id, who.id, "member")
        now = datetime.now(UTC)
        starts = now.replace(hour=hour, minute=0, second=0, microsecond=0)
        session = sessions.plan_session(store, coord, cop.id, starts, "Working with grief")
        # tomorrow's session is not today's
        sessions.plan_session(store, coord, cop.id, starts + timedelta(days=1), "Next time")
        return session
    finally:
        store.dispose()


def cli_settings(data_dir):
    from cop_widgets.settings import load_settings

    return load_settings({"COP_DATA_DIR": str(data_dir)})


def test_room_mode_listens_on_the_room_network_and_prints_each_sessions_link_and_qr(
    served, data_dir, capsys
):
    session = _session_today(data_dir, members=12)
    assert cli.main(["serve", "--room", "--no-demo", "--port", "8870"]) == 0
    out, err = capsys.readouterr()
    base = f"http://{LAN}:8870"
    link = f"{base}/voila/render/session.ipynb?code={session.join_code}"
    assert f"people in the room open {base}/" in out
    assert "“Working with grief”" in out and "12 expected" in out and "Next time" not in out
    lines = out.splitlines()
    at = lines.index(link)
    qr = []
    for line in lines[at + 1 :]:
        if not line or not set(line) <= set(HALF_BLOCKS):
            break
        qr.append(line)
    assert read_qr("\n".join(qr)) == [list(r) for r in segno.make_qr(link, error="m").matrix]
    # one warning: no HTTPS on the room's network
    assert err.count("passphrases cross the room's network in clear text") == 1
    [(cmd, env)] = served
    assert f"--Voila.ip={LAN}" in cmd and "--port=8870" in cmd
    assert env["COP_PUBLIC_URL"] == base  # join links, run sheet: server and kernels
    pools = _pools(cmd)
    assert pools["session.ipynb"] == 12  # the people expected today
    assert pools["reflection.ipynb"] >= 1 and pools["default"] == 1
    # the demo's sign-in links point at the room's address too
    assert "http://127.0.0.1" not in out


def test_people_sizes_the_pools_and_without_room_mode_nothing_changes(served, capsys):
    assert cli.main(["serve", "--no-demo", "--people", "7"]) == 0
    assert cli.main(["serve", "--no-demo"]) == 0
    (people_cmd, people_env), (plain_cmd, plain_env) = served
    assert _pools(people_cmd)["session.ipynb"] == 7
    assert "--Voila.ip=127.0.0.1" in people_cmd  # --people alone does not open the network
    assert plain_cmd == voila_command(ServeOptions())  # the default, as before
    assert "COP_PUBLIC_URL" not in plain_env and "COP_PUBLIC_URL" not in people_env
    assert "clear text" not in capsys.readouterr().err


def test_https_with_a_certificate_and_no_warning(served, tmp_path, capsys):
    cert, key = _self_signed(tmp_path)
    assert cli.main(["serve", "--room", "--no-demo", "--certfile", cert, "--keyfile", key]) == 0
    out, err = capsys.readouterr()
    [(cmd, env)] = served
    assert env["COP_PUBLIC_URL"] == f"https://{LAN}:8866"
    assert f"--CopVoila.certfile={cert}" in cmd and f"--CopVoila.keyfile={key}" in cmd
    assert "clear text" not in err and f"https://{LAN}:8866/" in out


@pytest.mark.parametrize(
    "args, says",
    [
        (["--people", "0"], "--people is '0'"),
        (["--people", "-3"], "--people is '-3'"),
        (["--people", "many"], "--people is 'many'"),
        (["--certfile", "/nonexistent/cert.pem"], "--certfile /nonexistent/cert.pem: no such"),
        (["--keyfile", "key.pem"], "--keyfile needs --certfile"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_started(served, data_dir, capsys, args, says):
    assert cli.main(["serve", "--room", "--no-demo", *args]) == 2
    out, err = capsys.readouterr()
    assert says in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert served == [] and not (data_dir / "cop.sqlite").exists()


def test_a_file_that_is_no_certificate_and_no_network_are_refused(
    served, data_dir, tmp_path, capsys, monkeypatch
):
    junk = tmp_path / "cert.pem"
    junk.write_text("not a certificate\n")
    assert cli.main(["serve", "--room", "--no-demo", "--certfile", str(junk)]) == 2
    assert "do not load as a certificate" in capsys.readouterr().err
    monkeypatch.setattr(room, "NETWORK", FakeNetwork(interfaces=[("lo", "127.0.0.1")]))
    assert cli.main(["serve", "--room", "--no-demo"]) == 2
    err = capsys.readouterr().err
    assert "found no network address" in err and len(err.strip().splitlines()) == 1
    assert served == [] and not (data_dir / "cop.sqlite").exists()


def _self_signed(tmp_path, ip: str = LAN) -> tuple[str, str]:
    """A certificate for `ip` signed by its own key, as `openssl req -x509` makes one."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ip)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "room.crt", tmp_path / "room.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


# -- today's sessions and the pools ----------------------------------------------------------------
def test_todays_sessions_are_the_days_in_the_configured_time_zone(store):
    coord = accounts.add_person(store, "Cora Coordinator")
    roster.grant_role(store, coord.id, "coordinator")
    cop = sessions.create_community(store, coord, "Night shift CoP")
    sydney = ZoneInfo("Australia/Sydney")
    # 23:30 on 1 March in Sydney is still 1 March there, and 12:30 UTC on 1 March
    late = datetime(2027, 3, 1, 23, 30, tzinfo=sydney)
    early = datetime(2027, 3, 2, 0, 30, tzinfo=sydney)
    for when, topic in ((late, "Late"), (early, "Early")):
        sessions.plan_session(store, coord, cop.id, when, topic)
    day = sessions_on(store, late.date(), "Australia/Sydney")
    assert [p.session.topic for p in day] == ["Late"]
    assert day[0].expected == 1 and day[0].community == "Night shift CoP"
    assert [p.session.topic for p in sessions_on(store, early.date(), "Australia/Sydney")] == [
        "Early"
    ]
    assert [p.session.topic for p in sessions_on(store, late.date(), "UTC")] == ["Late", "Early"]


def test_pools_follow_the_people_and_shrink_to_fit_memory():
    roomy = room.room_pools(30, available_mib=20_000, other_apps=5)
    assert roomy.sizes == {"session.ipynb": 30, "reflection.ipynb": 30, "case_discussion.ipynb": 30}
    assert roomy.note == ""
    tight = room.room_pools(30, available_mib=6_000, other_apps=5)
    assert tight.sizes["session.ipynb"] == 30
    assert 1 <= tight.sizes["reflection.ipynb"] < 30 and "memory holds about" in tight.note
    assert tight.mib <= 6_000 * 0.8 + 2 * room.KERNEL_MIB


# -- closed tabs -----------------------------------------------------------------------------------
class _Kernel:
    def __init__(self, state="idle"):
        self.execution_state = state


def test_a_kernel_no_page_is_connected_to_is_culled_even_while_it_keeps_sending(monkeypatch):
    """Jupyter Server's culler counts idleness from a kernel's last message: a closed tab's
    discussion clock would keep its kernel alive. Ours counts from the last connection."""
    from cop_widgets.serving import launch

    class Base:
        cull_idle_timeout = 40

        def __init__(self):
            self.log, self.shut, self.idle_checked = logging.getLogger("t"), [], []

        async def shutdown_kernel(self, kernel_id):
            self.shut.append(kernel_id)
            del self._kernels[kernel_id]

        async def cull_kernel_if_idle(self, kernel_id):  # Jupyter Server's own culler
            self.idle_checked.append(kernel_id)

    manager = launch._kernel_manager_factory(Base, False, 1)()
    manager._kernels = {k: _Kernel() for k in ("open", "closed", "pooled", "handed out")}
    manager._kernels["busy"] = _Kernel("busy")
    # "handed out": given to a page whose browser has not connected yet (scripts loading)
    manager._kernel_connections = {"open": 1, "closed": 1, "pooled": 0, "busy": 0}
    manager._kernel_connections["handed out"] = 0
    pool_entry = asyncio.Future(loop=asyncio.new_event_loop())
    pool_entry.set_result({"kernel_id": "pooled"})
    manager._pools = {"session.ipynb": [pool_entry]}
    clock = [1000.0]
    monkeypatch.setattr(launch, "_clock", lambda: clock[0])
    monkeypatch.setattr(launch, "UNCONNECTED_SINCE", {})
    monkeypatch.setattr(launch, "SEEN_CONNECTED", set())

    def tick(after_s):
        clock[0] += after_s
        for kernel_id in list(manager._kernels):
            asyncio.run(manager.cull_kernel_if_idle(kernel_id))

    tick(0)  # its tab is open
    manager._kernel_connections["closed"] = 0
    tick(5)  # the tab closed: first seen with no page
    tick(35)
    assert manager.shut == []
    tick(5)
    assert manager.shut == ["closed"]
    tick(100)  # a page still loading keeps its kernel longer than a closed tab
    assert manager.shut == ["closed"]
    tick(600)
    assert manager.shut == ["closed", "handed out"]  # connected, pooled, running ones stay
    assert set(manager._kernels) == {"open", "pooled", "busy"}
    # Jupyter Server's own culler (idle 40 s, no connection: shut down) never saw the kernel
    # handed to a page still loading, or it would have ended that page's grace early.
    assert "handed out" not in manager.idle_checked


# -- the rehearsal's verdict -----------------------------------------------------------------------
def _report(**changes):
    from cop_widgets.room.rehearse import APP

    app = {
        "tti": {"n": 30, "median": 2.1, "p95": 3.0, "max": 3.2},
        "save": {"n": 60, "median": 0.1, "p95": 0.3, "max": 0.5},
        "failures": [],
    }
    report = {
        "people": 30,
        "apps": {APP: app},
        "join_machine_busy": 0.6,
        "hold": {
            "machine_total_mib": 8000,
            "machine_available_mib": 4000,
            "participants_kernels_alive": 30,
        },
        "memory_peak": {"available_min_mib": 3900},
    }
    for key, value in changes.items():
        if key in app:
            app[key] = value
        else:
            report[key] = value
    return report


def test_the_verdict_says_whether_the_room_holds_and_what_the_limit_is():
    from cop_widgets.room.rehearse import verdict

    holds, limit, text = verdict(_report())
    assert holds and limit == "" and text.startswith("this server holds 30 participants")
    slow = _report(tti={"n": 30, "median": 4.2, "p95": 7.5, "max": 8.0}, join_machine_busy=0.97)
    holds, limit, text = verdict(slow)
    assert not holds and limit.startswith("the CPU (busy 97%")
    assert "too slow for 30 participants" in text and "median wait to join was 4.2 s" in text
    failing = _report(
        failures=[{"who": "P 29", "step": "join", "error": "TimeoutError: no joined session"}],
        memory_peak={"available_min_mib": 300},
    )
    failing["hold"]["participants_kernels_alive"] = 27
    holds, limit, text = verdict(failing)
    assert not holds and limit.startswith("kernels (27 still running for the 29 who joined)")
    assert "does not hold 30 participants: 1 of 30 failed (first at join" in text
    failing["hold"]["participants_kernels_alive"] = 29
    assert verdict(failing)[1].startswith("memory (0.3 of 7.8 GiB left free)")


# -- `cop rehearse`: what it refuses before anything starts ----------------------------------------
class _Answers500(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the standard library's name
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server_500():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answers500)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_rehearse_refuses_bad_input_in_one_line_and_starts_nothing(
    monkeypatch, data_dir, tmp_path, capsys, server_500
):
    monkeypatch.setenv("COP_DATA_DIR", str(data_dir))
    monkeypatch.delenv("COP_DATABASE_URL", raising=False)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{s.getsockname()[1]}"  # closed again: nothing listens
    cases = [
        (["--people", "0"], "--people is '0'"),
        (["--people", "-2"], "--people is '-2'"),
        (["--people", "5", "--browsers", "0", "--session", "NOPE99"], "--session NOPE99: no "),
        (["--people", "5", "--url", nobody], f"no server answers at {nobody}"),
        (["--people", "5", "--url", server_500], f"the server at {server_500} answered 500"),
    ]
    for args, says in cases:
        assert cli.main(["rehearse", *args]) == 2, args
        err = capsys.readouterr().err
        assert says in err and len(err.strip().splitlines()) == 1, (args, err)
    monkeypatch.setenv("CHROMIUM_PATH", str(tmp_path / "no-chromium"))
    assert cli.main(["rehearse", "--people", "3"]) == 2
    assert "chromium is needed" in capsys.readouterr().err
    # the real store was never created, the scratch copy is gone
    assert not (data_dir / "cop.sqlite").exists()
    assert list(scratch.iterdir()) == []


@pytest.mark.slow
def test_cop_serve_speaks_https_with_the_certificate_and_marks_cookies_secure(data_dir, tmp_path):
    """The real server (no kernels started ahead): its sign-in page over TLS, verified against
    the certificate, and a personal link's sign-in cookie marked Secure."""
    cert, key = _self_signed(tmp_path, ip="127.0.0.1")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, COP_DATA_DIR=str(data_dir))
    env.pop("COP_DATABASE_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "cop_widgets.cli", "serve", "--no-demo", f"--port={port}",
         "--pool-size=0", "--certfile", cert, "--keyfile", key],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        link = ""
        for line in server.stdout:
            found = re.search(r"(https://127\.0\.0\.1:\d+/login\?link=\S+)", line)
            if found:
                link = found.group(1)
                break
        assert link.startswith(f"https://127.0.0.1:{port}/")
        tls = ssl.create_default_context(cafile=cert)
        deadline = time.monotonic() + 60
        while True:
            try:
                page = urllib.request.urlopen(link, context=tls, timeout=5)  # noqa: S310
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline, "no HTTPS answer"
                time.sleep(0.3)
        jar = {c.split("=", 1)[0]: c.split(";")[0] for c in page.headers.get_all("Set-Cookie")}
        form = page.read().decode()
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form).group(1)
        token = link.split("link=", 1)[1]
        body = urllib.parse.urlencode({"_xsrf": xsrf, "action": "link", "link": token})
        request = urllib.request.Request(
            f"https://127.0.0.1:{port}/login", data=body.encode(), method="POST",
            headers={"Cookie": jar["_xsrf"]},
        )  # fmt: skip
        opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=tls), _NoRedirect()
        )
        with pytest.raises(urllib.error.HTTPError) as answer:
            opener.open(request, timeout=10)
        assert answer.value.code == 302
        session_cookie = next(
            c for c in answer.value.headers.get_all("Set-Cookie") if c.startswith("cop_session=")
        )
        assert "Secure" in session_cookie and "HttpOnly" in session_cookie
        # plain HTTP on the same port gets nothing
        with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5)  # noqa: S310
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
