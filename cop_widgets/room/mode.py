"""Room mode (`cop serve --room`): the address people in the room open, its QR codes, HTTPS
files, and how many kernels to start ahead for the people expected.

Nothing here reaches the internet: the local-network address is what the system would use to
reach a private address, read from a UDP socket's connect(), which sends no packet.
"""

from __future__ import annotations

import io
import ipaddress
import math
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

from cop_widgets.errors import CopWidgetsError

# Private addresses a room's network would route: asking the system which of our addresses it
# would send from picks the interface on the room's network (Wi-Fi or cable), not a VPN's or
# a container bridge's first address. Any of them will do; the first that routes wins.
PRIVATE_PROBES = ("192.168.0.1", "10.0.0.1", "172.16.0.1")


class Network:
    """What room mode asks the system (replaced in tests by a fake with the same methods)."""

    def route(self, target: str) -> str | None:
        """Our address the system would send from to reach `target` (None: no route)."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect((target, 9))  # UDP: chooses a route, sends nothing
                return probe.getsockname()[0]
            except OSError:
                return None

    def interfaces(self) -> list[tuple[str, str]]:
        """(interface name, IPv4 address) of each interface that is up."""
        import psutil

        stats = psutil.net_if_stats()
        return [
            (name, addr.address)
            for name, addrs in psutil.net_if_addrs().items()
            if stats.get(name) is None or stats[name].isup
            for addr in addrs
            if addr.family == socket.AF_INET
        ]


NETWORK = Network()


def _usable(address: str | None) -> TypeGuard[str]:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return ip.version == 4 and not (ip.is_loopback or ip.is_unspecified or ip.is_multicast)


def lan_address(network: Network | None = None) -> str:
    """This machine's address on the local network: the one a private address is routed from,
    else the first other IPv4 address (private ones first, link-local last)."""
    network = network or NETWORK
    for target in PRIVATE_PROBES:
        found = network.route(target)
        if _usable(found) and not ipaddress.ip_address(found).is_link_local:
            return found
    candidates = [addr for _name, addr in network.interfaces() if _usable(addr)]
    candidates.sort(
        key=lambda a: (
            ipaddress.ip_address(a).is_link_local,
            not ipaddress.ip_address(a).is_private,
        )
    )
    if not candidates:
        raise CopWidgetsError(
            "--room found no network address on this machine: join the room's Wi-Fi or plug "
            "in its cable, or give the address with --ip."
        )
    return candidates[0]


def base_url(ip: str, port: int, https: bool = False) -> str:
    host = "127.0.0.1" if ip in ("0.0.0.0", "::", "") else ip  # noqa: S104 - shown, not bound
    if ":" in host:  # an IPv6 address goes in brackets
        host = f"[{host}]"
    return f"{'https' if https else 'http'}://{host}:{port}"


def join_url(base: str, code: str) -> str:
    """A session's join link (the join page reads the code; README, Joining)."""
    return f"{base.rstrip('/')}/voila/render/session.ipynb?code={code}"


def qr_code(url: str) -> str:
    """The URL as a QR code drawn with half-block characters for a terminal: a regular QR code
    (never a Micro QR, which phones do not read), error correction M (a projector's glare)."""
    import segno

    out = io.StringIO()
    segno.make_qr(url, error="m").terminal(out=out, compact=True)
    return out.getvalue()


def check_people(raw: str | None) -> int | None:
    """`--people N`: a whole number of at least 1, or None when not given."""
    if raw is None:
        return None
    text = str(raw).strip()
    if not text.isdigit() or int(text) < 1:
        raise CopWidgetsError(
            f"--people is {raw!r}: give how many people are in the room, a whole number of at "
            "least 1."
        )
    if int(text) > 500:
        raise CopWidgetsError(
            f"--people is {text}: one server holds a room, not more than 500 people."
        )
    return int(text)


def check_tls(certfile: str | None, keyfile: str | None) -> tuple[str, str] | None:
    """`--certfile/--keyfile`: both readable and a pair that loads, or None for plain HTTP."""
    if not certfile and not keyfile:
        return None
    if not certfile:
        raise CopWidgetsError("--keyfile needs --certfile (the certificate it belongs to).")
    for flag, name in (("--certfile", certfile), ("--keyfile", keyfile)):
        if not name:
            continue
        path = Path(name)
        if not path.is_file():
            raise CopWidgetsError(f"{flag} {name}: no such file.")
        try:
            path.read_bytes()
        except OSError as exc:
            raise CopWidgetsError(f"{flag} {name}: cannot be read ({exc.strerror}).") from None

    def no_prompt():  # a key locked by a passphrase would make the server wait at a prompt
        raise CopWidgetsError(
            f"--keyfile {keyfile or certfile} is locked by a passphrase: give a key without one."
        )

    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
            certfile, keyfile or None, password=no_prompt
        )
    except ssl.SSLError as exc:
        raise CopWidgetsError(
            f"--certfile {certfile}"
            + (f" and --keyfile {keyfile}" if keyfile else "")
            + f" do not load as a certificate and its key ({exc.reason or exc})."
        ) from None
    return str(Path(certfile).resolve()), str(Path(keyfile).resolve()) if keyfile else ""


# -- kernels started ahead ------------------------------------------------------------------------
# A participant's kernel holds about 70 MiB (69.7 MiB measured, benchmarks/README.md); with the
# server's own share this keeps a margin.
KERNEL_MIB = 75
SESSION_PAGE = "session.ipynb"
# Opened by everyone when the facilitator asks, while the session page stays open.
SECOND_PAGES = ("reflection.ipynb", "case_discussion.ipynb")


@dataclass(frozen=True)
class Pools:
    sizes: dict[str, int]
    people: int
    kernels: int  # started ahead in all, with the other apps' one each
    note: str  # why a pool is smaller than the room, or ""

    @property
    def mib(self) -> int:
        return self.kernels * KERNEL_MIB


def room_pools(people: int, available_mib: float, other_apps: int) -> Pools:
    """Kernels started ahead when `people` are expected: one each on the join page (everyone
    opens it at once), and on the reflection and case discussion pages as many as memory allows
    (up to one each), leaving a fifth of the available memory free."""
    sizes = {SESSION_PAGE: people}
    budget = math.floor(available_mib * 0.8 / KERNEL_MIB) - people - other_apps
    each = max(1, min(people, budget // len(SECOND_PAGES)))
    sizes |= dict.fromkeys(SECOND_PAGES, each)
    kernels = sum(sizes.values()) + other_apps
    note = ""
    if each < people:
        note = (
            f"memory holds about {max(budget, 0) + people + other_apps} kernels "
            f"({available_mib / 1024:.1f} GiB available at {KERNEL_MIB} MiB a kernel): the "
            f"reflection and case discussion pages get {each} each ahead; the others start "
            "when opened (a few seconds more each)"
        )
        if budget < 0:
            note += "; the join page's own kernels alone may not fit: rehearse first"
    return Pools(sizes, people, kernels, note)
