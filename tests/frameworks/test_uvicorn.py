"""uvicorn serving a Starlette app, driven by httpx (whose connection pool runs on
anyio): many requests over keep-alive connections, a few hundred at once, request and
response bodies bigger than the socket buffers, a websocket; and the uvicorn command
with `--loop uvloop` in a child process, stopped by SIGTERM."""

import asyncio
import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
import websockets.asyncio.client

from asgi_app import CHUNK, app

HERE = Path(__file__).parent


@contextlib.asynccontextmanager
async def uvicorn_serving():
    """uvicorn serving `app` in this loop; yields its base URL."""
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    config = uvicorn.Config(app, log_level='warning', lifespan='off')
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not task.done(), task.result()
            await asyncio.sleep(0.005)
        host, port = sock.getsockname()
        yield f'http://{host}:{port}'
    finally:
        server.should_exit = True
        await task
        sock.close()


def test_keep_alive(run):
    async def main():
        async with uvicorn_serving() as url, httpx.AsyncClient(base_url=url) as client:
            ports = set()
            for n in range(150):
                response = await client.get('/port', params={'n': n})
                assert response.status_code == 200
                assert response.json()['n'] == str(n)
                ports.add(response.json()['port'])
            assert len(ports) == 1
    run(main)


def test_concurrent_requests(run):
    count = 300

    async def main():
        limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
        async with uvicorn_serving() as url, \
                httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
            responses = await asyncio.gather(*(
                client.get('/port', params={'n': n, 'sleep': 0.2}) for n in range(count)))
            assert [response.json()['n'] for response in responses] == \
                [str(n) for n in range(count)]
            # Served at once: most on connections of their own (the pool reuses those
            # whose request ended before the last ones were sent).
            assert len({response.json()['port'] for response in responses}) >= count // 2
    run(main)


def test_big_bodies(run):
    body = os.urandom(8 * 1024 * 1024 + 7)

    async def main():
        async with uvicorn_serving() as url, \
                httpx.AsyncClient(base_url=url, timeout=30) as client:
            response = await client.post('/digest', content=body)
            assert response.json() == {'length': len(body),
                                       'sha256': hashlib.sha256(body).hexdigest()}
            received = bytearray()
            async with client.stream('GET', '/stream', params={'chunks': 200}) as response:
                async for chunk in response.aiter_raw():
                    received += chunk
            assert received == CHUNK * 200
    run(main)


def test_websocket(run):
    async def main():
        async with uvicorn_serving() as url:
            ws_url = url.replace('http', 'ws') + '/ws'
            async with websockets.asyncio.client.connect(ws_url) as ws:
                for n in range(1000):
                    await ws.send(f'message {n}')
                    assert await ws.recv() == f'message {n}'[::-1]
                big = os.urandom(512 * 1024)
                await ws.send(big)
                assert await ws.recv() == big
    run(main)


@pytest.mark.parametrize('loop_option', ['uvloop', 'asyncio'])
def test_uvicorn_command(loop_option, tmp_path):
    """`uvicorn --loop uvloop` picks this package up as uvloop and serves on it; on
    SIGTERM it shuts down gracefully, then re-raises the signal."""
    path = tmp_path / 'uvicorn.sock'
    server = subprocess.Popen(
        [sys.executable, '-m', 'uvicorn', 'asgi_app:app', '--uds', str(path),
         '--loop', loop_option, '--log-level', 'info'],
        cwd=HERE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not path.exists():
            assert server.poll() is None, server.stderr.read()
            assert time.monotonic() < deadline, 'uvicorn did not start'
            time.sleep(0.02)
        transport = httpx.HTTPTransport(uds=str(path))
        with httpx.Client(transport=transport, base_url='http://uvicorn') as client:
            expected = 'uvloop.Loop' if loop_option == 'uvloop' else \
                'asyncio.unix_events._UnixSelectorEventLoop'
            assert client.get('/loop').text == expected
            for n in range(200):
                assert client.get('/port', params={'n': n}).json()['n'] == str(n)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=20) == -signal.SIGTERM
        log = server.stderr.read()
        assert 'Finished server process' in log
        assert 'ERROR' not in log and 'Traceback' not in log
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        server.stderr.close()
