"""aiohttp's web server and client on one loop: JSON, a streamed response, file
responses (sendfile: the kernel's on a plain socket, the read-and-write fallback over
TLS), a websocket, and a Unix socket server."""

import asyncio
import contextlib
import hashlib
import os

import aiohttp
import pytest
from aiohttp import web

FILE_SIZE = 5 * 1024 * 1024 + 123
CLOSE_CODES = web.AppKey('close_codes', list)


@pytest.fixture(scope='module')
def big_file(tmp_path_factory):
    path = tmp_path_factory.mktemp('static') / 'big.bin'
    path.write_bytes(os.urandom(FILE_SIZE))
    return path


async def json_echo(request):
    payload = await request.json()
    return web.json_response({'got': payload, 'length': len(payload['items'])})


async def stream(request):
    chunks = int(request.query['chunks'])
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    for index in range(chunks):
        await response.write(bytes([index % 256]) * 65536)
    await response.write_eof()
    return response


async def websocket_echo(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for message in ws:
        if message.type is aiohttp.WSMsgType.TEXT:
            await ws.send_str(message.data.upper())
        elif message.type is aiohttp.WSMsgType.BINARY:
            await ws.send_bytes(message.data[::-1])
    request.app[CLOSE_CODES].append(ws.close_code)
    return ws


def make_app(big_file):
    async def file(request):
        return web.FileResponse(big_file)

    app = web.Application()
    app[CLOSE_CODES] = []
    app.router.add_post('/json', json_echo)
    app.router.add_get('/stream', stream)
    app.router.add_get('/file', file)
    app.router.add_get('/ws', websocket_echo)
    return app


@contextlib.asynccontextmanager
async def serving(app, site_factory):
    runner = web.AppRunner(app)
    await runner.setup()
    site = site_factory(runner)
    await site.start()
    try:
        yield site
    finally:
        await runner.cleanup()


def tcp_site(ssl_context=None):
    return lambda runner: web.TCPSite(runner, '127.0.0.1', 0, ssl_context=ssl_context)


def base_url(site):
    return site.name.rstrip('/')


def test_json_requests(run, big_file):
    async def main():
        async with serving(make_app(big_file), tcp_site()) as site, \
                aiohttp.ClientSession(base_url(site)) as session:
            for count in range(200):
                payload = {'items': list(range(count)), 'name': 'é' * count}
                async with session.post('/json', json=payload) as response:
                    assert response.status == 200
                    assert await response.json() == {'got': payload, 'length': count}
    run(main)


def test_streamed_response(run, big_file):
    async def main():
        async with serving(make_app(big_file), tcp_site()) as site, \
                aiohttp.ClientSession(base_url(site)) as session:
            async with session.get('/stream', params={'chunks': 300}) as response:
                assert response.headers['Transfer-Encoding'] == 'chunked'
                body = bytearray()
                async for chunk in response.content.iter_chunked(10000):
                    body += chunk
        assert body == b''.join(bytes([index % 256]) * 65536 for index in range(300))
    run(main)


@pytest.mark.parametrize('tls', [False, True], ids=['plain', 'tls'])
def test_file_response(run, big_file, tls, server_ssl, client_ssl):
    data = big_file.read_bytes()

    async def main():
        site_factory = tcp_site(server_ssl if tls else None)
        async with serving(make_app(big_file), site_factory) as site, \
                aiohttp.ClientSession(base_url(site)) as session:
            options = {'ssl': client_ssl} if tls else {}
            async with session.get('/file', **options) as response:
                assert response.status == 200
                assert hashlib.sha256(await response.read()).digest() == \
                    hashlib.sha256(data).digest()
            # A range: sendfile with an offset and a count.
            headers = {'Range': 'bytes=1000001-3000000'}
            async with session.get('/file', headers=headers, **options) as response:
                assert response.status == 206
                assert await response.read() == data[1000001:3000001]
    run(main)


def test_websocket(run, big_file):
    messages = [('x' * (index % 700)) + str(index) for index in range(2000)]

    async def main():
        app = make_app(big_file)
        async with serving(app, tcp_site()) as site, \
                aiohttp.ClientSession(base_url(site)) as session:
            async with session.ws_connect('/ws') as ws:
                for index, text in enumerate(messages):
                    if index % 2:
                        await ws.send_str(text)
                        assert await ws.receive_str() == text.upper()
                    else:
                        await ws.send_bytes(text.encode())
                        assert await ws.receive_bytes() == text.encode()[::-1]
                # Many in flight before the first reply is read.
                for text in messages:
                    await ws.send_str(text)
                for text in messages:
                    assert await ws.receive_str() == text.upper()
                big = os.urandom(3 * 1024 * 1024)
                await ws.send_bytes(big)
                assert await ws.receive_bytes() == big[::-1]
                await ws.close(code=4001, message=b'done')
            for _ in range(100):
                if app[CLOSE_CODES]:
                    break
                await asyncio.sleep(0.01)
            assert app[CLOSE_CODES] == [4001]
    run(main)


def test_unix_socket_server(run, big_file, tmp_path):
    path = str(tmp_path / 'aiohttp.sock')
    data = big_file.read_bytes()

    async def main():
        site_factory = lambda runner: web.UnixSite(runner, path)
        async with serving(make_app(big_file), site_factory):
            connector = aiohttp.UnixConnector(path=path)
            async with aiohttp.ClientSession('http://localhost', connector=connector) \
                    as session:
                async with session.post('/json', json={'items': [1, 2]}) as response:
                    assert await response.json() == {'got': {'items': [1, 2]},
                                                     'length': 2}
                async with session.get('/file') as response:
                    assert await response.read() == data
    run(main)
