"""websockets' server and client on one loop, over TCP, TLS and a Unix socket: many
messages of every size, one bigger than the socket buffers, pings, and the close
handshake started by either side, or a connection dropped without one."""

import asyncio
import contextlib
import os

import pytest
from websockets.asyncio.client import connect, unix_connect
from websockets.asyncio.server import serve, unix_serve
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK


def messages():
    for n in range(1000):
        size = (n * 7919) % 65536 if n % 10 else n
        yield f'text {n} ' + 'é' * (size // 2) if n % 2 else os.urandom(size)


@contextlib.asynccontextmanager
async def endpoints(transport, handler, tmp_path, server_ssl, client_ssl):
    """A server running `handler` and a client connected to it, over `transport`."""
    options = {'max_size': None}
    if transport == 'unix':
        path = str(tmp_path / 'ws.sock')
        server = unix_serve(handler, path, **options)
        client = lambda: unix_connect(path, **options)
    else:
        tls = transport == 'tls'
        server = serve(handler, '127.0.0.1', 0, ssl=server_ssl if tls else None,
                       **options)
    async with server:
        if transport != 'unix':
            port = server.sockets[0].getsockname()[1]
            uri = f"{'wss' if tls else 'ws'}://localhost:{port}"
            client = lambda: connect(uri, ssl=client_ssl if tls else None,
                                     **options)
        async with client() as ws:
            yield server, ws


TRANSPORTS = ['tcp', 'tls', 'unix']


@pytest.mark.parametrize('transport', TRANSPORTS)
def test_messages_and_client_close(run, transport, tmp_path, server_ssl, client_ssl):
    close_codes = []

    async def echo(ws):
        async for message in ws:
            await ws.send(message)
        close_codes.append((ws.close_code, ws.close_reason))

    async def main():
        async with endpoints(transport, echo, tmp_path, server_ssl, client_ssl) \
                as (server, ws):
            for message in messages():
                await ws.send(message)
                assert await ws.recv() == message
            # Pipelined: the replies queue up behind the requests.
            batch = list(messages())[:500]
            sender = asyncio.gather(*map(ws.send, batch))
            for message in batch:
                assert await ws.recv() == message
            await sender
            big = os.urandom(6 * 1024 * 1024)
            await ws.send(big)
            assert await ws.recv() == big
            latency = await ws.ping()
            assert await latency >= 0
            await ws.close(code=1000, reason='done')
            assert (ws.close_code, ws.close_reason) == (1000, 'done')
        # Leaving `async with server` waited for the handler.
        assert close_codes == [(1000, 'done')]
    run(main)


@pytest.mark.parametrize('transport', TRANSPORTS)
def test_server_close(run, transport, tmp_path, server_ssl, client_ssl):
    async def handler(ws):
        for n in range(100):
            await ws.send(f'{n}')
        await ws.close(code=1001, reason='going away')

    async def main():
        async with endpoints(transport, handler, tmp_path, server_ssl, client_ssl) \
                as (server, ws):
            assert [message async for message in ws] == [f'{n}' for n in range(100)]
            assert (ws.close_code, ws.close_reason) == (1001, 'going away')
    run(main)


@pytest.mark.parametrize('transport', TRANSPORTS)
def test_connection_dropped(run, transport, tmp_path, server_ssl, client_ssl):
    async def handler(ws):
        await ws.send('before')
        ws.transport.abort()

    async def main():
        async with endpoints(transport, handler, tmp_path, server_ssl, client_ssl) \
                as (server, ws):
            assert await ws.recv() == 'before'
            with pytest.raises(ConnectionClosedError):
                await ws.recv()
            assert ws.close_code == 1006
    run(main)
