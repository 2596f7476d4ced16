"""A real authoritative DNS server for the tests: NSD on 127.0.0.1, serving zone files we generate.

`nsd_server` (session) starts one NSD on a free port with a private config in a temporary folder
(`username: ""`, `chroot: ""`, no database, remote control off), checks the config with
`nsd-checkconf` first, waits until the port answers, and stops it by its pid at the end.
`nsd` (per test) hands the same server to a test, which calls `nsd.serve(*zones)`:

- zone *contents* changed, same zone names: the files are rewritten with a higher SOA serial and
  NSD gets SIGHUP, which rereads changed zone files (measured: ~3 ms); `serve` returns once every
  zone answers with the new serial, so no test can see the previous test's records;
- the *set* of zones changed (or a zone moved in or out of `broken`): NSD only learns zones from
  its config at start, so it is restarted on the same port (measured: ~0.2 s).

Answers worth knowing: a name in no served zone gets REFUSED (serve every domain an SPF include
reaches, e.g. `mailgun.org`); a zone listed in `serve(..., broken=[...])` is configured but its file
does not load, and NSD answers SERVFAIL for every name in it. `dns_blackhole` is an address whose
UDP and TCP sockets accept queries but never answer, for timeouts.

No NSD on the machine is a test failure, not a skip: CI installs it in `.ci/run`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

HOST = "127.0.0.1"
START_TIMEOUT = 10.0  # seconds for NSD to answer after start; it takes ~0.2 s here
RELOAD_TIMEOUT = 2.0  # seconds for a SIGHUP reload to show the new serials before we restart instead
TXT_MAX_STRING = 255  # RFC 1035: one character-string holds at most 255 octets

MISSING = (
    "NSD is not installed ({what} not found on PATH or in /usr/sbin): the DNS audit tests need a real "
    "authoritative server. `.ci/run` installs it on CI; locally run `apt-get install nsd` (Debian/Ubuntu)."
)


def _binary(name: str) -> str:
    # Debian puts NSD in /usr/sbin, which is not on a non-root PATH.
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    if not found:
        pytest.fail(MISSING.format(what=name), pytrace=False)
    return found


def _quote(data: bytes) -> str:
    """One zone-file character-string: quoted, with `"` and `\\` escaped and other bytes as \\DDD."""
    out = []
    for byte in data:
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def split_strings(value: str, size: int = TXT_MAX_STRING) -> list[str]:
    """`value` cut into character-strings of at most `size` characters, as DNS must carry it."""
    return [value[i : i + size] for i in range(0, len(value), size)] or [""]


@dataclass(frozen=True)
class Record:
    name: str  # fully qualified, no trailing dot
    type: str
    rdata: str  # zone-file presentation

    def line(self, ttl: int) -> str:
        return f"{self.name}. {ttl} IN {self.type} {self.rdata}"


class Zone:
    """Records for one zone. Names are relative to the origin (`"cio12345"`, `"@"` for the apex) or
    fully qualified under it (`"cio12345.example.com"`). Builders return the zone, so they chain."""

    def __init__(self, origin: str, ttl: int = 300) -> None:
        self.origin = origin.strip().rstrip(".").lower()
        self.ttl = ttl
        self.records: list[Record] = []

    def fqdn(self, name: str) -> str:
        name = name.strip().rstrip(".").lower()
        if name in ("", "@") or name == self.origin:
            return self.origin
        if name.endswith("." + self.origin):
            return name
        return f"{name}.{self.origin}"

    def _host(self, host: str) -> str:
        return host.strip().rstrip(".").lower() + "."

    def add(self, name: str, rtype: str, rdata: str) -> Zone:
        self.records.append(Record(self.fqdn(name), rtype.upper(), rdata))
        return self

    def a(self, name: str, address: str) -> Zone:
        return self.add(name, "A", address)

    def mx(self, name: str, priority: int, host: str) -> Zone:
        return self.add(name, "MX", f"{priority} {self._host(host)}")

    def cname(self, name: str, target: str) -> Zone:
        return self.add(name, "CNAME", self._host(target))

    def txt(self, name: str, *strings: str | bytes) -> Zone:
        """One TXT record whose character-strings are `strings`, in order (each at most 255 octets)."""
        if not strings:
            raise ValueError("a TXT record has at least one character-string")
        encoded = [s.encode() if isinstance(s, str) else s for s in strings]
        for s in encoded:
            if len(s) > TXT_MAX_STRING:
                raise ValueError(f"a TXT character-string holds at most {TXT_MAX_STRING} octets, got {len(s)}; "
                                 "use txt_value() to split it")
        return self.add(name, "TXT", " ".join(_quote(s) for s in encoded))

    def txt_value(self, name: str, value: str) -> Zone:
        """One TXT record holding `value` split into 255-character strings (a 2048-bit DKIM key)."""
        return self.txt(name, *split_strings(value))

    def remove(self, name: str, rtype: str | None = None) -> Zone:
        fqdn = self.fqdn(name)
        self.records = [r for r in self.records if not (r.name == fqdn and (rtype is None or r.type == rtype.upper()))]
        return self

    def copy(self) -> Zone:
        twin = Zone(self.origin, self.ttl)
        twin.records = list(self.records)
        return twin

    def render(self, serial: int) -> str:
        lines = [
            f"$TTL {self.ttl}",
            f"{self.origin}. {self.ttl} IN SOA ns.{self.origin}. hostmaster.{self.origin}. {serial} 3600 600 86400 60",
            f"{self.origin}. {self.ttl} IN NS ns.{self.origin}.",
        ]
        lines += [r.line(self.ttl) for r in self.records]
        return "\n".join(lines) + "\n"


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (DNS needs both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((HOST, 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((HOST, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no port free for both UDP and TCP on 127.0.0.1")


class NsdServer:
    """One NSD process serving generated zone files; see the module docstring."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.nsd = _binary("nsd")
        self.checkconf = _binary("nsd-checkconf")
        self.conf = workdir / "nsd.conf"
        self.log = workdir / "nsd.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.serial = int(time.time())
        self.zones: dict[str, Zone] = {}
        self.broken: set[str] = set()
        self.restarts = 0
        self.reloads = 0

    @property
    def address(self) -> tuple[str, int]:
        return HOST, self.port

    # --- config and zone files ---------------------------------------------------------------

    def _config(self) -> str:
        d = self.workdir
        lines = [
            "server:",
            f"  ip-address: {HOST}@{self.port}",
            f"  port: {self.port}",
            '  username: ""',
            '  chroot: ""',
            '  database: ""',
            f'  pidfile: "{d / "nsd.pid"}"',
            f'  xfrdfile: "{d / "xfrd.state"}"',
            f'  xfrdir: "{d}"',
            f'  zonelistfile: "{d / "zone.list"}"',
            f'  logfile: "{self.log}"',
            f'  zonesdir: "{d}"',
            "  server-count: 1",
            "  verbosity: 1",
            "remote-control:",
            "  control-enable: no",
        ]
        for name in sorted({*self.zones, *self.broken}):
            lines += ["zone:", f"  name: {name}", f'  zonefile: "{name}.zone"']
        return "\n".join(lines) + "\n"

    def _write(self, path: Path, text: str) -> None:
        # Rename into place: NSD must never read a half-written file, and the new inode's mtime
        # tells it the file changed even within the same second.
        temp = path.with_suffix(path.suffix + ".tmp")
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)

    def _write_zones(self) -> None:
        self.serial += 1
        for name, zone in self.zones.items():
            self._write(self.workdir / f"{name}.zone", zone.render(self.serial))
        for name in self.broken:
            # No SOA and an unknown type: NSD logs the errors, keeps the zone configured, and answers
            # SERVFAIL for it.
            self._write(self.workdir / f"{name}.zone", f"; deliberately broken\n{name}. 300 IN NOSUCHTYPE x\n")

    # --- process -----------------------------------------------------------------------------

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._write(self.conf, self._config())
        checked = subprocess.run([self.checkconf, str(self.conf)], capture_output=True, text=True, timeout=30)
        if checked.returncode != 0:
            raise RuntimeError(f"nsd-checkconf rejected {self.conf}:\n{checked.stdout}{checked.stderr}")
        self.log.write_text("", encoding="utf-8")
        with open(self.workdir / "nsd.stderr", "wb") as stderr:  # the child keeps its own copy of the fd
            self.process = subprocess.Popen([self.nsd, "-d", "-c", str(self.conf)],
                                            stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nsd exited with status {self.process.returncode} at start:\n{self._logs()}")
            if self._answers():
                return
            time.sleep(0.005)
        self.stop()
        raise RuntimeError(f"nsd did not answer on {HOST}:{self.port} within {START_TIMEOUT:g} s:\n{self._logs()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def _logs(self) -> str:
        parts = []
        for path in (self.log, self.workdir / "nsd.stderr"):
            with contextlib.suppress(OSError):
                parts.append(path.read_text(encoding="utf-8", errors="replace"))
        return "".join(parts)[-4000:]

    def query(self, name: str, rtype: str = "A", timeout: float = 0.2) -> dns.message.Message:
        request = dns.message.make_query(name, rtype, use_edns=0, payload=4096)  # long TXT: no truncation
        return dns.query.udp(request, HOST, port=self.port, timeout=timeout)

    def _answers(self) -> bool:
        try:
            self.query(".", "SOA", timeout=0.05)  # REFUSED is an answer too
        except (dns.exception.Timeout, OSError):
            return False
        return True

    def _serving_current(self) -> bool:
        for name in self.zones:
            try:
                response = self.query(name, "SOA")
            except (dns.exception.Timeout, OSError):
                return False
            serials = [rr.serial for rrset in response.answer for rr in rrset if rrset.rdtype == dns.rdatatype.SOA]
            if response.rcode() != dns.rcode.NOERROR or serials != [self.serial]:
                return False
        return True

    # --- what a test calls ---------------------------------------------------------------------

    def serve(self, *zones: Zone, broken: Iterable[str] = ()) -> None:
        """Serve exactly these zones (replacing what the server served before) and, for each name in
        `broken`, a zone that fails to load (SERVFAIL). Returns when NSD answers with the new data."""
        new_zones = {z.origin: z for z in zones}
        new_broken = {b.strip().rstrip(".").lower() for b in broken}
        if len(new_zones) != len(zones) or new_broken & set(new_zones):
            raise ValueError("each zone origin once, either served or broken")
        same_set = set(new_zones) == set(self.zones) and new_broken == self.broken
        self.zones, self.broken = new_zones, new_broken
        self._write_zones()
        if same_set and self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGHUP)
            deadline = time.monotonic() + RELOAD_TIMEOUT
            while time.monotonic() < deadline:
                if self._serving_current():
                    self.reloads += 1
                    return
                time.sleep(0.002)
        self.stop()
        self.start()
        self.restarts += 1
        if not self._serving_current():
            raise RuntimeError(f"nsd does not serve the new zones after a restart:\n{self._logs()}")


class Blackhole:
    """An address whose UDP and TCP sockets take queries and never answer: every lookup times out."""

    def __init__(self) -> None:
        self.port = free_port()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((HOST, self.port))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind((HOST, self.port))
        self.tcp.listen(64)  # connections complete in the kernel's backlog; nobody ever reads them

    @property
    def address(self) -> tuple[str, int]:
        return HOST, self.port

    def close(self) -> None:
        self.udp.close()
        self.tcp.close()


@pytest.fixture(scope="session")
def nsd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NsdServer]:
    """One NSD for the session, serving nothing until a test calls `serve`."""
    server = NsdServer(tmp_path_factory.mktemp("nsd"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def nsd(nsd_server: NsdServer) -> NsdServer:
    """The session's NSD for one test: call `nsd.serve(*zones)` first; it replaces every zone."""
    return nsd_server


@pytest.fixture(scope="session")
def dns_blackhole() -> Iterator[Blackhole]:
    hole = Blackhole()
    try:
        yield hole
    finally:
        hole.close()
