"""The workloads bench_instructions.py counts, run in a child process under
callgrind:

    python instructions_child.py KIND WORKLOAD N       run N operations
    python instructions_child.py KIND serve SERVER PATH
        serve echo (SERVER: tcp, unix or udp; PATH: the Unix socket's) until
        SIGTERM, after printing {"port": PORT} on a line

KIND is asyncio, upstream or ours; the parent checked beforehand that the
interpreter's uvloop is the one KIND names. Imports are kept to what the
workloads need: every run pays for them, some 50 times slower than natively.
"""

import asyncio
import json
import random
import signal
import sys
import time

BATCH = 1_000
# Timer delays: at least 1 ms, as upstream runs a call_later rounding to
# 0 ms as a call_soon.
TIMER_DELAYS = (0.001, 0.010)
HOST = "127.0.0.1"


# --------------------------------------------------------------------------
# Core workloads: fn(new_loop, n) runs n operations.


def _run(loop, start):
    loop.call_soon(start)
    loop.run_forever()
    loop.close()


def _batches(loop, n, schedule_one):
    """Call schedule_one() n times, in batches of BATCH from a chain of batch
    callbacks (the ready queue stays short, as in real programs); stop when
    the last batch's callbacks have run."""
    batches_left = n // BATCH

    def batch():
        nonlocal batches_left
        for _ in range(BATCH):
            schedule_one()
        batches_left -= 1
        # FIFO order: the next batch (or the stop) runs after this one's callbacks.
        loop.call_soon(batch if batches_left else loop.stop)

    _run(loop, batch)


def call_soon(new_loop, n):
    loop = new_loop()

    def noop():
        pass

    _batches(loop, int(n), lambda: loop.call_soon(noop))


def call_soon_threadsafe(new_loop, n):
    loop = new_loop()

    def noop():
        pass

    _batches(loop, int(n), lambda: loop.call_soon_threadsafe(noop))


def done_callback(new_loop, n):
    loop = new_loop()

    def done(fut):
        pass

    def one():
        fut = loop.create_future()
        fut.add_done_callback(done)
        fut.set_result(None)

    _batches(loop, int(n), one)


def _chain(loop, n, schedule_next):
    """A callback that schedules itself with schedule_next(callback) until it
    ran n times."""
    left = n

    def step():
        nonlocal left
        left -= 1
        if left:
            schedule_next(step)
        else:
            loop.stop()

    _run(loop, step)


def call_soon_chain(new_loop, n):
    loop = new_loop()
    _chain(loop, int(n), loop.call_soon)


def call_later_chain(new_loop, n):
    loop = new_loop()
    _chain(loop, int(n), lambda step: loop.call_later(TIMER_DELAYS[0], step))


def call_later(new_loop, n):
    """Batches of BATCH timers, the next batch scheduled once all fired. After
    scheduling, the batch sleeps past the longest delay so that every timer is
    due at the next loop iteration: how many iterations a batch takes then
    does not depend on how fast the process runs (under callgrind, ~50x
    slower)."""
    loop = new_loop()
    rng = random.Random(0)  # every loop and run gets the same delays
    delays = [rng.uniform(*TIMER_DELAYS) for _ in range(BATCH)]
    batches_left = int(n) // BATCH
    pending = 0

    def fired():
        nonlocal pending
        pending -= 1
        if not pending:
            loop.call_soon(batch if batches_left else loop.stop)

    def batch():
        nonlocal batches_left, pending
        batches_left -= 1
        pending = BATCH
        for delay in delays:
            loop.call_later(delay, fired)
        # Past libuv's millisecond rounding too.
        time.sleep(TIMER_DELAYS[1] + 0.002)

    _run(loop, batch)


def task_switch(new_loop, n):
    loop = new_loop()

    async def pingpong():
        for _ in range(int(n)):
            fut = loop.create_future()
            loop.call_soon(fut.set_result, None)
            await fut
        loop.stop()

    _run(loop, lambda: loop.create_task(pingpong()))


def sleep0(new_loop, n):
    loop = new_loop()

    async def yielder():
        for _ in range(int(n)):
            await asyncio.sleep(0)
        loop.stop()

    _run(loop, lambda: loop.create_task(yielder()))


# --------------------------------------------------------------------------
# Echo servers: report where they listen, serve until SIGTERM,
# then exit normally so that callgrind writes its counts.


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


async def _start_tcp(loop, path):
    server = await loop.create_server(EchoProtocol, HOST, 0)
    return server.sockets[0].getsockname()[1], server


async def _start_unix(loop, path):
    return None, await loop.create_unix_server(EchoProtocol, path)


async def _start_udp(loop, path):
    transport, _ = await loop.create_datagram_endpoint(
        EchoDatagramProtocol, local_addr=(HOST, 0))
    return transport.get_extra_info("sockname")[1], transport


SERVERS = {"tcp": _start_tcp, "unix": _start_unix, "udp": _start_udp}


def serve(new_loop, server, path):
    loop = new_loop()
    port, listener = loop.run_until_complete(SERVERS[server](loop, path))
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    print(json.dumps({"port": port}), flush=True)
    loop.run_forever()
    listener.close()
    loop.close()


WORKLOADS = {
    "call_soon": call_soon,
    "call_soon_chain": call_soon_chain,
    "call_later": call_later,
    "call_later_chain": call_later_chain,
    "task_switch": task_switch,
    "sleep0": sleep0,
    "threadsafe": call_soon_threadsafe,
    "done_callback": done_callback,
    "serve": serve,
}


def main():
    kind, workload, *args = sys.argv[1:]
    if kind == "asyncio":
        new_loop = asyncio.new_event_loop
    else:
        import uvloop
        new_loop = uvloop.new_event_loop
    WORKLOADS[workload](new_loop, *args)


if __name__ == "__main__":
    main()
