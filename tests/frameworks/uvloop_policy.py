"""A pytest plugin (`-p uvloop_policy`) for a framework's own test suite whose tests
run on asyncio's default loop (uvicorn's): through the event loop policy, every such
loop is ours. The run fails if no test made one."""

import asyncio

import uvloop


class CountingPolicy(uvloop.EventLoopPolicy):
    loops_made = 0

    def _loop_factory(self):
        CountingPolicy.loops_made += 1
        return super()._loop_factory()


def pytest_configure(config):
    asyncio.set_event_loop_policy(CountingPolicy())


def pytest_sessionfinish(session, exitstatus):
    print(f'\nuvloop_policy: the policy made {CountingPolicy.loops_made} loops, all ours')
    if CountingPolicy.loops_made == 0:
        session.exitstatus = 1
