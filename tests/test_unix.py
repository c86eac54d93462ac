"""Unix sockets only: loop.create_unix_connection() and create_unix_server() (paths,
abstract names, passed-in sockets, the socket file and its clean-up), and the addresses
a Unix transport reports. The transport contract Unix sockets share with TCP is
test_stream_transports.py's."""

import asyncio
import os
import pathlib
import socket
import sys

import blockbuster
import pytest

from loops import run
from netutil import EchoProtocol, RecordingProtocol, assert_echoed_then_close, open_fds


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / 'sock')


async def connect(loop, path, **kwargs):
    return await loop.create_unix_connection(lambda: RecordingProtocol(loop), path,
                                             **kwargs)


def test_extra_info_names_the_socket_file(loop, path):
    server_sides = []

    def factory():
        server_sides.append(RecordingProtocol(loop))
        return server_sides[-1]

    async def main():
        server = await loop.create_unix_server(factory, path)
        transport, client = await connect(loop, path)
        assert transport.get_extra_info('peername') == path
        assert transport.get_extra_info('sockname') == ''
        sock = transport.get_extra_info('socket')
        assert sock.family == socket.AF_UNIX
        assert server.sockets[0].getsockname() == path
        while not server_sides:
            await asyncio.sleep(0.001)
        await server_sides[0].made
        accepted = server_sides[0].transport
        assert accepted.get_extra_info('sockname') == path
        assert accepted.get_extra_info('peername') == ''
        transport.close()
        await client.lost
        server.close()

    run(loop, main())


def test_abstract_socket_names_are_bytes(loop):
    name = f'\0uvloop-test-{os.getpid()}-{id(loop)}'

    async def main():
        server = await loop.create_unix_server(EchoProtocol, name)
        transport, client = await connect(loop, name)
        assert transport.get_extra_info('peername') == name.encode()
        transport.close()
        await client.lost
        server.close()

    run(loop, main())


def test_connecting_to_a_missing_path_raises_file_not_found(loop, path):
    async def main():
        with pytest.raises(FileNotFoundError):
            await connect(loop, path)

    run(loop, main())


def test_connecting_to_a_socket_nobody_listens_on_is_refused(loop, path):
    async def main():
        with socket.socket(socket.AF_UNIX) as bound:
            bound.bind(path)
            with pytest.raises(ConnectionRefusedError):
                await connect(loop, path)

    run(loop, main())


def test_paths_may_be_path_objects(loop, path):
    async def main():
        server = await loop.create_unix_server(EchoProtocol, pathlib.Path(path))
        transport, client = await connect(loop, pathlib.Path(path))
        await assert_echoed_then_close(transport, client)
        server.close()

    run(loop, main())


def test_a_stale_socket_file_is_replaced(loop, path):
    async def main():
        with socket.socket(socket.AF_UNIX) as stale:
            stale.bind(path)
        assert os.path.exists(path)
        server = await loop.create_unix_server(EchoProtocol, path)
        transport, client = await connect(loop, path)
        transport.close()
        await client.lost
        server.close()

    run(loop, main())


def test_closing_the_server_removes_its_socket_file_as_the_running_python(loop, path):
    # asyncio removes it from Python 3.13 on (cleanup_socket=True by default).
    async def main():
        server = await loop.create_unix_server(EchoProtocol, path)
        assert os.path.exists(path)
        server.close()
        await server.wait_closed()
        return os.path.exists(path)

    assert run(loop, main()) == (sys.version_info < (3, 13))


def test_cleanup_socket_true_removes_the_socket_file_on_every_python(uvloop_loop,
                                                                     path):
    # As upstream uvloop (asyncio before 3.13 has no cleanup_socket argument).
    loop = uvloop_loop

    async def main():
        server = await loop.create_unix_server(EchoProtocol, path,
                                               cleanup_socket=True)
        server.close()
        await server.wait_closed()
        assert not os.path.exists(path)

    run(loop, main())


def test_cleanup_socket_false_keeps_the_socket_file(uvloop_loop, path):
    loop = uvloop_loop

    async def main():
        server = await loop.create_unix_server(EchoProtocol, path,
                                               cleanup_socket=False)
        server.close()
        assert os.path.exists(path)

    run(loop, main())


def test_a_replaced_socket_file_is_left_alone(uvloop_loop, path):
    loop = uvloop_loop

    async def main():
        first = await loop.create_unix_server(EchoProtocol, path, cleanup_socket=True)
        second = await loop.create_unix_server(EchoProtocol, path,
                                               cleanup_socket=True)
        first.close()
        assert os.path.exists(path)         # it is the second server's now
        second.close()
        assert not os.path.exists(path)

    run(loop, main())


async def serve_once_and_close(loop, path, **kwargs):
    server = await loop.create_unix_server(EchoProtocol, path, **kwargs)
    transport, client = await connect(loop, path)
    await assert_echoed_then_close(transport, client)
    server.close()
    await server.wait_closed()


def test_unix_server_set_up_and_close_make_no_blocking_call(loop, path):
    # Blocking-call detectors patch os.stat() & co.: the server's non-blocking uses of
    # them must not show.
    with blockbuster.blockbuster_ctx():
        run(loop, serve_once_and_close(loop, path))


def test_replacing_and_cleaning_up_the_socket_file_make_no_blocking_call(
        uvloop_loop, path):
    # asyncio's os.remove() of a stale socket file is reported.
    loop = uvloop_loop
    with socket.socket(socket.AF_UNIX) as stale:
        stale.bind(path)
    with blockbuster.blockbuster_ctx():
        run(loop, serve_once_and_close(loop, path, cleanup_socket=True))
    assert not os.path.exists(path)


def test_sockets_can_be_passed_in(loop, path):
    async def main():
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(path)
        server = await loop.create_unix_server(EchoProtocol, sock=listener)
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(path)
        transport, client = await loop.create_unix_connection(
            lambda: RecordingProtocol(loop), sock=sock)
        transport.write(b'ping')
        assert await client.received(4) == b'ping'
        transport.close()
        await client.lost
        assert sock.fileno() == -1
        server.close()
        assert listener.fileno() == -1

    run(loop, main())


def test_create_connection_accepts_a_unix_stream_socket(loop, path):
    async def main():
        server = await loop.create_unix_server(EchoProtocol, path)
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(path)
        transport, client = await loop.create_connection(
            lambda: RecordingProtocol(loop), sock=sock)
        await assert_echoed_then_close(transport, client, b'ping')
        server.close()

    run(loop, main())


def test_argument_errors_match_asyncio(loop, path):
    async def main():
        with socket.socket(socket.AF_UNIX) as sock:
            with pytest.raises(ValueError, match='path and sock can not be '
                                                 'specified at the same time'):
                await loop.create_unix_connection(asyncio.Protocol, path, sock=sock)
            with pytest.raises(ValueError, match='path and sock can not be '
                                                 'specified at the same time'):
                await loop.create_unix_server(asyncio.Protocol, path, sock=sock)
        with pytest.raises(ValueError, match='no path and sock were specified'):
            await loop.create_unix_connection(asyncio.Protocol)
        with pytest.raises(ValueError, match='path was not specified, and no sock '
                                             'specified'):
            await loop.create_unix_server(asyncio.Protocol)
        with socket.socket() as tcp:
            with pytest.raises(ValueError, match='A UNIX Domain Stream Socket was '
                                                 'expected'):
                await loop.create_unix_connection(asyncio.Protocol, sock=tcp)
            with pytest.raises(ValueError, match='A UNIX Domain Stream Socket was '
                                                 'expected'):
                await loop.create_unix_server(asyncio.Protocol, sock=tcp)
        with pytest.raises(ValueError, match='server_hostname is only meaningful '
                                             'with ssl'):
            await loop.create_unix_connection(asyncio.Protocol, path,
                                              server_hostname='x')
        with pytest.raises(TypeError, match='ssl argument must be an SSLContext '
                                            'or None'):
            await loop.create_unix_server(asyncio.Protocol, path, ssl=True)

    run(loop, main())


def test_failed_connects_leak_no_fd(loop, path):
    async def main():
        with pytest.raises(FileNotFoundError):
            await connect(loop, path)
        before = open_fds()
        for _ in range(30):
            with pytest.raises(FileNotFoundError):
                await connect(loop, path)
        assert open_fds() == before

    run(loop, main())
