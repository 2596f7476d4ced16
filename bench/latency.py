"""A network delay in front of the local servers: TCP and UDP forwarders that hold every chunk or
datagram for a fixed time in each direction, in a process of their own.

Loopback answers in microseconds, so against bare local servers an audit is pure CPU and running
its checks concurrently cannot show (the client's CPU time is the floor). Real endpoints are a
network away; this puts them there, the same delay for every service, so that what the benchmark
measures is how the checks overlap their waiting, as they would against AWS, DNS and Customer.io.

    python -m bench.latency DELAY_SECONDS tcp:HOST:PORT udp:HOST:PORT dns:HOST:PORT ...
prints one listening port per upstream, in order, then serves until standard input closes.
"""

from __future__ import annotations

import asyncio
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                break
            await asyncio.sleep(max(0.0, due - loop.time()))
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.create_task(deliver())
    try:
        while data := await reader.read(65536):
            queue.put_nowait((loop.time() + delay, data))
    except (ConnectionError, OSError):
        pass
    queue.put_nowait((loop.time() + delay, b""))
    await sender


async def _tcp(host: str, port: int, delay: float) -> int:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer, delay), _pipe(up_reader, writer, delay),
                             return_exceptions=True)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server.sockets[0].getsockname()[1]


class _Upstream(asyncio.DatagramProtocol):
    def __init__(self, front: asyncio.DatagramTransport, client: tuple[str, int], delay: float) -> None:
        self.front, self.client, self.delay = front, client, delay

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        asyncio.get_running_loop().call_later(self.delay, self.front.sendto, data, self.client)


class _Front(asyncio.DatagramProtocol):
    def __init__(self, upstream: tuple[str, int], delay: float) -> None:
        self.upstream, self.delay = upstream, delay
        self.transport: asyncio.DatagramTransport | None = None
        self.clients: dict[tuple[str, int], asyncio.DatagramTransport] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        asyncio.get_running_loop().call_later(self.delay, lambda: asyncio.ensure_future(self._forward(data, addr)))

    async def _forward(self, data: bytes, addr: tuple[str, int]) -> None:
        upstream = self.clients.get(addr)
        if upstream is None:
            assert self.transport is not None
            upstream, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                lambda: _Upstream(self.transport, addr, self.delay), remote_addr=self.upstream)
            self.clients[addr] = upstream
        upstream.sendto(data)


async def _udp(host: str, port: int, delay: float, listen: int = 0) -> int:
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: _Front((host, port), delay), local_addr=("127.0.0.1", listen))
    return transport.get_extra_info("sockname")[1]


async def _dns(host: str, port: int, delay: float) -> int:
    """UDP and TCP on one port, as a resolver expects of a name server (TCP after a truncated answer)."""
    for _ in range(20):
        listen = await _tcp(host, port, delay)
        try:
            return await _udp(host, port, delay, listen)
        except OSError:
            continue
    raise RuntimeError("no port free for both UDP and TCP")


async def main(delay: float, upstreams: list[str]) -> None:
    ports = []
    for spec in upstreams:
        kind, host, port = spec.split(":")
        ports.append(await {"tcp": _tcp, "udp": _udp, "dns": _dns}[kind](host, int(port), delay))
    print(" ".join(map(str, ports)), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]), sys.argv[2:]))
