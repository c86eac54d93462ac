"""asyncio's streams over our transports: open_connection, start_server and the Unix
variants."""

import asyncio

from loops import run
from netutil import payload


async def handle_echo(reader, writer):
    """Echo lines until EOF, then close."""
    while line := await reader.readline():
        writer.write(line)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def handle_bulk_echo(reader, writer):
    """Echo everything, reading in big chunks, until EOF."""
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


def test_open_connection_and_start_server_exchange_lines(loop):
    async def main():
        server = await asyncio.start_server(handle_echo, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection('127.0.0.1', port)
        for line in (b'one\n', b'two\n', b'three\n'):
            writer.write(line)
            assert await reader.readline() == line
        assert writer.get_extra_info('peername') == ('127.0.0.1', port)
        writer.write_eof()
        assert await reader.read() == b''
        assert reader.at_eof()
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_drain_carries_a_large_payload_through_flow_control(loop):
    async def main():
        server = await asyncio.start_server(handle_bulk_echo, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection('127.0.0.1', port)
        data = payload(16 * 1024 * 1024)

        async def send():
            for start in range(0, len(data), 1024 * 1024):
                writer.write(data[start:start + 1024 * 1024])
                await writer.drain()
            writer.write_eof()

        sender = asyncio.ensure_future(send())
        received = await reader.read()
        await sender
        assert received == data
        writer.close()
        await writer.wait_closed()
        server.close()

    run(loop, main())


def test_unix_streams_exchange_data(loop, tmp_path):
    path = str(tmp_path / 'sock')

    async def main():
        server = await asyncio.start_unix_server(handle_bulk_echo, path)
        reader, writer = await asyncio.open_unix_connection(path)
        data = payload(1024 * 1024)
        writer.write(data)
        writer.write_eof()
        assert await reader.read() == data
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_readexactly_reports_an_incomplete_read_when_the_peer_closes(loop):
    async def send_and_close(reader, writer):
        writer.write(b'short')
        writer.close()

    async def main():
        server = await asyncio.start_server(send_and_close, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection('127.0.0.1', port)
        try:
            await reader.readexactly(10)
        except asyncio.IncompleteReadError as exc:
            assert exc.partial == b'short'
        else:
            raise AssertionError('IncompleteReadError expected')
        writer.close()
        await writer.wait_closed()
        server.close()

    run(loop, main())
