"""uvloop.loop.libuv_get_loop_t_ptr(): C code runs its own libuv handles on our loop.

capsule_probe.c, built here into a temporary directory, is such C code: it starts a
libuv timer on the uv_loop_t* taken from the capsule, with libuv's functions taken from
our extension module (one libuv in the process, the loop's own).
"""

import asyncio
import ctypes
import importlib.util
import pathlib

import pytest
from setuptools import Distribution, Extension

import uvloop
import uvloop.loop

from loops import run_until

HERE = pathlib.Path(__file__).parent
LIBUV_INCLUDE = HERE.parent / 'vendor' / 'libuv' / 'src-tree' / 'include'


@pytest.fixture(scope='module')
def probe(tmp_path_factory):
    build_dir = tmp_path_factory.mktemp('capsule_probe')
    dist = Distribution({'ext_modules': [Extension(
        'capsule_probe', [str(HERE / 'capsule_probe.c')],
        include_dirs=[str(LIBUV_INCLUDE)])]})
    build_ext = dist.get_command_obj('build_ext')
    build_ext.build_lib = str(build_dir)
    build_ext.build_temp = str(build_dir / 'tmp')
    build_ext.ensure_finalized()
    build_ext.run()
    spec = importlib.util.spec_from_file_location(
        'capsule_probe', build_ext.get_ext_fullpath('capsule_probe'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.resolve(uvloop.loop.__file__)
    return module


def close_probe_timer(probe, loop):
    closed = probe.counts()['closed']
    probe.close()
    run_until(loop, lambda: probe.counts()['closed'] == closed + 1)


def test_a_c_extension_runs_a_libuv_timer_on_the_loop(uvloop_loop, probe):
    fired = probe.counts()['fired']
    probe.start(uvloop.loop.libuv_get_loop_t_ptr(uvloop_loop), 1, 1)
    try:
        run_until(uvloop_loop, lambda: probe.counts()['fired'] >= fired + 3)
    finally:
        close_probe_timer(probe, uvloop_loop)
    fired = probe.counts()['fired']
    uvloop_loop.run_until_complete(asyncio.sleep(0.02))
    assert probe.counts()['fired'] == fired


def test_the_capsule_holds_its_own_loop(uvloop_loop, probe):
    other = uvloop.new_event_loop()
    try:
        fired = probe.counts()['fired']
        probe.start(uvloop.loop.libuv_get_loop_t_ptr(other), 0, 1)
        try:
            uvloop_loop.run_until_complete(asyncio.sleep(0.05))
            assert probe.counts()['fired'] == fired
            run_until(other, lambda: probe.counts()['fired'] > fired)
        finally:
            close_probe_timer(probe, other)
    finally:
        other.close()


def test_the_capsule_has_no_name_as_upstreams(uvloop_loop):
    # C code written for upstream uvloop calls PyCapsule_GetPointer(capsule, NULL).
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype = ctypes.c_char_p
    get_name.argtypes = [ctypes.py_object]
    assert get_name(uvloop.loop.libuv_get_loop_t_ptr(uvloop_loop)) is None


def test_a_closed_loop_has_no_capsule():
    loop = uvloop.new_event_loop()
    loop.close()
    with pytest.raises(RuntimeError, match='Event loop is closed'):
        uvloop.loop.libuv_get_loop_t_ptr(loop)
