"""Connection churn with STARTTLS upgrades, as a PostgreSQL client pool does it
(asyncpg: plain connect, SSLRequest, 'S', start_tls(), then its own protocol is
connected to the new transport by hand). Under such churn asyncpg's pool saw a
fresh protocol get connection_lost(None) right after connection_made, with no byte
read: here every session must get its reply before its connection ends, whether
the client closes, aborts, or the server closes first."""

import asyncio

from tlsutil import client_context, server_context

SSL_REQUEST = b'\x00\x00\x00\x08\x04\xd2\x16\x2f'
# Sessions per run: our loop is the one under test; asyncio's run checks that the
# test's expectations are asyncio's too.
CONNECTIONS = {'uvloop': 2000, 'asyncio': 500}
CONCURRENCY = 20


class UpgradingServer(asyncio.Protocol):
    """Answers an SSLRequest with 'S' and upgrades; then answers each query, and
    closes on 'bye'. Queries that come before start_tls() returned are answered
    after it (asyncio's loop hands them over early)."""

    def __init__(self, loop):
        self.loop = loop
        self.upgraded = False
        self.early = []

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        if data == SSL_REQUEST and not self.upgraded:
            self.transport.pause_reading()
            self.transport.write(b'S')
            self.loop.create_task(self.upgrade())
        elif not self.upgraded:
            self.early.append(data)
        else:
            self.answer(data)

    async def upgrade(self):
        self.transport = await self.loop.start_tls(
            self.transport, self, server_context('ec'), server_side=True)
        self.upgraded = True
        for data in self.early:
            self.answer(data)

    def answer(self, data):
        self.transport.write(b'reply to ' + data)
        if data.startswith(b'bye'):
            self.transport.close()


class UpgradeProtocol(asyncio.Protocol):
    def __init__(self, loop):
        self.answer = loop.create_future()

    def data_received(self, data):
        if not self.answer.done():
            self.answer.set_result(data)

    def connection_lost(self, exc):
        if not self.answer.done():
            self.answer.set_exception(ConnectionError('lost before the answer'))


class Session(asyncio.Protocol):
    def __init__(self, loop):
        self.events = []
        self.reply = loop.create_future()
        self.lost = loop.create_future()

    def connection_made(self, transport):
        self.events.append('made')

    def data_received(self, data):
        self.events.append('data')
        if not self.reply.done():
            self.reply.set_result(data)

    def connection_lost(self, exc):
        self.events.append('lost')
        if not self.reply.done():
            self.reply.set_result(None)
        self.lost.set_result(exc)


async def one_session(loop, port, number):
    transport, upgrade = await loop.create_connection(
        lambda: UpgradeProtocol(loop), '127.0.0.1', port)
    transport.write(SSL_REQUEST)
    assert await upgrade.answer == b'S'
    tls_transport = await loop.start_tls(transport, upgrade, client_context('ec'),
                                         server_hostname='localhost')
    session = Session(loop)
    session.connection_made(tls_transport)
    tls_transport.set_protocol(session)
    ending = number % 3
    query = b'bye %d' % number if ending == 2 else b'query %d' % number
    tls_transport.write(query)
    reply = await session.reply
    if ending == 0:
        tls_transport.close()
    elif ending == 1:
        tls_transport.abort()
    await asyncio.wait_for(session.lost, 10)
    if reply != b'reply to ' + query:
        return (number, session.events, reply)
    return None


def test_sessions_over_start_tls_get_their_data_under_churn(loop, loop_kind):
    connections = CONNECTIONS[loop_kind]

    async def main():
        server = await loop.create_server(lambda: UpgradingServer(loop),
                                          '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        slots = asyncio.Semaphore(CONCURRENCY)

        async def limited(number):
            async with slots:
                return await one_session(loop, port, number)

        results = await asyncio.gather(*(limited(n) for n in range(connections)))
        server.close()
        await server.wait_closed()
        return [r for r in results if r is not None]

    failures = loop.run_until_complete(main())
    assert failures == [], f'{len(failures)} of {connections}: {failures[:5]}'
