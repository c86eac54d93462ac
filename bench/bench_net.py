"""Network echo servers under load: for each loop an echo server runs in its
own process while the C client build/echoclient (see echoclient.c) drives it
with a fixed number of connections, one request in flight on each.

Reports requests/s and the server's CPU time per request (user + system, from
/proc), the cost that an event loop changes even when the kernel is the
bottleneck. See runner.py for the common options."""

import asyncio
import functools
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import runner

HOST = "127.0.0.1"
READ_SIZE = 256 * 1024  # stream reads big enough to take a 100 KiB echo at once
ECHOCLIENT = runner.BENCH_DIR / "build" / "echoclient"

# --------------------------------------------------------------------------
# Servers (child side). Each start function returns (port or None, listener);
# the listener is returned only to keep it referenced while serving.


class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


class EchoDatagramProtocol(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.transport.sendto(data, addr)


async def _echo_stream(reader, writer):
    try:
        while data := await reader.read(READ_SIZE):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass  # the client quits with requests in flight when its time is up
    writer.close()


async def _tcp_protocol(loop):
    server = await loop.create_server(EchoProtocol, HOST, 0)
    return server.sockets[0].getsockname()[1], server


async def _tcp_streams(loop):
    server = await asyncio.start_server(_echo_stream, HOST, 0)
    return server.sockets[0].getsockname()[1], server


async def _unix_protocol(loop, path):
    return None, await loop.create_unix_server(EchoProtocol, path)


async def _udp(loop):
    transport, _ = await loop.create_datagram_endpoint(
        EchoDatagramProtocol, local_addr=(HOST, 0))
    return transport.get_extra_info("sockname")[1], transport


def _serve(start, new_loop, *args):
    """Start a server, report its port, and serve until terminated."""
    loop = new_loop()
    port, _listener = loop.run_until_complete(start(loop, *args))
    runner.report({"port": port})
    loop.run_forever()


SERVERS = {
    "tcp-protocol": _tcp_protocol,
    "tcp-streams": _tcp_streams,
    "unix-protocol": _unix_protocol,
    "udp": _udp,
}
WORKLOADS = {name: functools.partial(_serve, start) for name, start in SERVERS.items()}

# --------------------------------------------------------------------------
# Measurement (parent side)


@functools.cache
def _echoclient():
    """Build the client on first use; make skips it when up to date."""
    subprocess.run(["make", "-s", "-C", str(runner.BENCH_DIR), "build/echoclient"],
                   stdout=sys.stderr, check=True)
    return str(ECHOCLIENT)


def _run_echoclient(target, msize, duration, args):
    command = [_echoclient(), *target, "--msize", str(msize),
               "--conns", str(args.conns), "--duration", str(duration)]
    proc = subprocess.run(command, capture_output=True, text=True,
                          timeout=duration + 30)
    if proc.returncode != 0:
        error = proc.stderr.strip() or f"echoclient: exit {proc.returncode}"
        raise runner.ChildError(error)
    return json.loads(proc.stdout)


def _client_target(server, port, unix_path):
    if server == "unix-protocol":
        return ["--unix", unix_path]
    target = ["--host", HOST, "--port", str(port)]
    return target + ["--udp"] if server == "udp" else target


def _measure(server, msize, loop, args):
    """One server process of `loop`, loaded by the client for args.warmup,
    then for args.duration measured."""
    with tempfile.TemporaryDirectory() as tmp:
        unix_path = str(Path(tmp) / "echo.sock")
        server_args = [unix_path] if server == "unix-protocol" else []
        with loop.serve(server, *server_args) as (proc, ready):
            target = _client_target(server, ready["port"], unix_path)
            # A fresh server (and machine) runs markedly slower for its first
            # second of load; measuring that would mostly measure noise.
            if args.warmup:
                _run_echoclient(target, msize, args.warmup, args)
            cpu_before = runner.process_cpu_seconds(proc.pid)
            result = _run_echoclient(target, msize, args.duration, args)
            cpu = runner.process_cpu_seconds(proc.pid) - cpu_before
    if not result["requests"]:
        raise runner.ChildError("no request completed")
    metrics = {"req/s": result["req/s"],
               "cpu_us/req": cpu / result["requests"] * 1e6}
    if "resends" in result:
        metrics["resends"] = result["resends"]
    return metrics


CASES = {
    "tcp-proto-1k": ("tcp-protocol", 1024),
    "tcp-proto-10k": ("tcp-protocol", 10 * 1024),
    "tcp-proto-100k": ("tcp-protocol", 100 * 1024),
    "tcp-streams-1k": ("tcp-streams", 1024),
    "unix-proto-1k": ("unix-protocol", 1024),
    "udp-100b": ("udp", 100),
}
BENCHMARKS = {name: functools.partial(_measure, server, msize)
              for name, (server, msize) in CASES.items()}


def _add_arguments(parser):
    parser.add_argument("--duration", type=float, default=5.0,
                        help="seconds of load per measurement (default %(default)s)")
    parser.add_argument("--conns", type=int, default=10,
                        help="client connections (default %(default)s)")
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="seconds of unmeasured load first (default %(default)s)")
    parser.set_defaults(rounds=3)  # 6 workloads x 3 loops x 3 rounds: ~6 minutes


if __name__ == "__main__":
    runner.main(WORKLOADS, BENCHMARKS, _add_arguments)
