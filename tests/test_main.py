"""`python -m uvloop`, run as a user runs it: in a child process started in an empty
folder, so the installed package answers, never the source tree."""

import os
import shutil
import subprocess
import sys
import sysconfig

import uvloop
import uvloop.loop

from spawnutil import vfork_shares_memory


def run_module(cwd, *args, code=None, **env):
    command = ['-c', code] if code else ['-m', 'uvloop', *args]
    environ = {key: value for key, value in os.environ.items()
               if key != 'UVLOOP_SPAWN_LOCKED'}
    return subprocess.run([sys.executable, *command], cwd=cwd, env={**environ, **env},
                          capture_output=True, text=True, timeout=120)


def libuv_version():
    # From the number, not from the string the module prints.
    number = uvloop.loop.libuv_get_version()
    return f'{number >> 16}.{(number >> 8) & 0xff}.{number & 0xff}'


def fast_spawn_expected():
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return False
    return vfork_shares_memory() == 1


def test_version_is_one_line(tmp_path):
    result = run_module(tmp_path, '--version')
    assert result.returncode == 0, result.stderr
    assert result.stdout == f'uvloop {uvloop.__version__} (libuv {libuv_version()})\n'


def test_report_and_self_check(tmp_path):
    result = run_module(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    installed = os.path.dirname(uvloop.__file__)
    assert lines[0] == f'uvloop {uvloop.__version__} (libuv {libuv_version()}), at {installed}'
    python = lines[1]
    assert python.startswith('Python: CPython ' + sysconfig.get_python_version())
    if sysconfig.get_config_var('Py_GIL_DISABLED'):
        assert 'free-threaded build, GIL off' in python
    else:
        assert 'with the GIL' in python
    spawn, why = lines[2:4]
    if fast_spawn_expected():
        assert spawn.startswith('spawn path: fast')
        assert why == '  why: pidfds, and a vfork()-style child that shares our memory'
    else:
        assert spawn.startswith('spawn path: locked')
        assert why.startswith('  why: ')
    checks = lines[lines.index('self-check:') + 1:-1]
    assert [line.split(':')[0] for line in checks] == [
        '  ok     a loop runs callbacks, a timer and a future',
        '  ok     TCP echo',
        '  ok     spawn from threads, one loop each',
        '  ok     spawn path',
    ]
    assert lines[-1] == 'all checks passed'


def test_locked_spawn_when_forced(tmp_path):
    result = run_module(tmp_path, UVLOOP_SPAWN_LOCKED='1')
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'spawn path: locked' in result.stdout
    assert '  why: UVLOOP_SPAWN_LOCKED=1 (or a test switch) forces the locked spawn' \
        in result.stdout
    assert '  ok     spawn path: locked, as forced' in result.stdout


def test_a_failing_check_fails_the_run(tmp_path):
    # Children that exit with status 1 instead of echoing: the spawn check must fail.
    code = ('import sys, uvloop.__main__ as main; '
            f'sys.executable = {shutil.which("false")!r}; '
            'sys.exit(main.main(["uvloop"]))')
    result = run_module(tmp_path, code=code)
    assert result.returncode == 1, result.stdout + result.stderr
    assert '  FAILED spawn from threads, one loop each: CheckFailed:' in result.stdout
    assert 'exit status 1' in result.stdout
    assert result.stdout.splitlines()[-1] == '1 check(s) FAILED'


def test_unknown_arguments(tmp_path):
    result = run_module(tmp_path, '--verbose')
    assert result.returncode == 2
    assert result.stdout == ''
    assert 'usage: python -m uvloop [--version]' in result.stderr
