"""uvloop's own API: what a drop-in replacement for upstream uvloop must offer."""

import asyncio
import importlib.metadata
import subprocess
import sys
import threading
import warnings

import pytest

import uvloop
from uvloop import loop as uvloop_loop


def test_run_returns_the_coroutine_result():
    assert uvloop.run(asyncio.sleep(0, 42)) == 42


def test_run_uses_a_uvloop_loop():
    async def main():
        return asyncio.get_running_loop()

    assert isinstance(uvloop.run(main()), uvloop.Loop)


def test_run_passes_debug_and_loop_factory():
    created = []

    def factory():
        created.append(uvloop.new_event_loop())
        return created[-1]

    async def main():
        return asyncio.get_running_loop().get_debug()

    assert uvloop.run(main(), loop_factory=factory, debug=True) is True
    assert len(created) == 1 and created[0].is_closed()


@pytest.mark.parametrize('factory', [asyncio.new_event_loop, asyncio.SelectorEventLoop,
                                     lambda: 5],
                         ids=['asyncio-loop', 'selector-loop', 'not-a-loop'])
def test_run_refuses_a_factory_that_makes_no_uvloop_loop(factory):
    async def main():
        raise AssertionError('main() ran')

    with warnings.catch_warnings():
        warnings.simplefilter('error')      # no unclosed loop, no unawaited main()
        with pytest.raises(TypeError, match='uvloop.run\\(\\) uses a non-uvloop event '
                                            'loop'):
            uvloop.run(main(), loop_factory=factory)


def test_run_accepts_a_factory_of_loop_subclasses():
    class MyLoop(uvloop.Loop):
        pass

    async def main():
        return type(asyncio.get_running_loop())

    assert uvloop.run(main(), loop_factory=MyLoop) is MyLoop


def test_default_executor_threads_are_named_as_upstream():
    async def main():
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: threading.current_thread().name)

    assert uvloop.run(main()) == 'uvloop_0'


def test_new_event_loop_is_an_abstract_event_loop():
    loop = uvloop.new_event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
        assert isinstance(loop, asyncio.AbstractEventLoop)
        assert isinstance(loop, uvloop_loop.Loop)
    finally:
        loop.close()


def test_event_loop_policy_creates_uvloop_loops():
    policy = uvloop.EventLoopPolicy()
    loop = policy.new_event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_install_sets_the_policy():
    old_policy = asyncio.get_event_loop_policy()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            uvloop.install()
        deprecations = [w for w in caught if w.category is DeprecationWarning]
        assert len(deprecations) == (1 if sys.version_info >= (3, 12) else 0)
        assert isinstance(asyncio.get_event_loop_policy(), uvloop.EventLoopPolicy)
        loop = asyncio.new_event_loop()
        try:
            assert isinstance(loop, uvloop.Loop)
        finally:
            loop.close()
    finally:
        asyncio.set_event_loop_policy(old_policy)


def test_version_matches_the_distribution_metadata():
    assert uvloop.__version__ == importlib.metadata.version('uvloop')


def test_libuv_version_is_reported():
    version = uvloop_loop.libuv_get_version()
    major, minor = version >> 16, (version >> 8) & 0xff
    assert (major, minor) >= (1, 50)
    assert uvloop_loop.libuv_version_string() == \
        f'{major}.{minor}.{version & 0xff}'
    out = subprocess.run([sys.executable, '-m', 'uvloop', '--version'],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == (f'uvloop {uvloop.__version__} '
                           f'(libuv {uvloop_loop.libuv_version_string()})')


def test_loop_t_capsule_is_stable_per_loop_and_distinct_between_loops():
    import ctypes

    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype = ctypes.c_void_p
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]

    first, second = uvloop.new_event_loop(), uvloop.new_event_loop()
    try:
        a1 = get_pointer(uvloop_loop.libuv_get_loop_t_ptr(first), None)
        a2 = get_pointer(uvloop_loop.libuv_get_loop_t_ptr(first), None)
        b = get_pointer(uvloop_loop.libuv_get_loop_t_ptr(second), None)
        assert a1 == a2 and a1 != b and a1 and b
    finally:
        first.close()
        second.close()


def test_loop_t_capsule_rejects_other_loops():
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(TypeError):
            uvloop_loop.libuv_get_loop_t_ptr(loop)
    finally:
        loop.close()
