"""Build the extension `uvloop.loop`: our Cython sources plus libuv's C sources.

Environment variables read at build time:
  UVLOOP_DEBUG=1             compile in the debug counters (live handles, requests, ...)
  UVLOOP_USE_SYSTEM_LIBUV=1  link the system libuv (pkg-config libuv) instead of
                             compiling vendor/libuv/src-tree
  UVLOOP_PORTABLE_SPAWN=1    leave out the Linux-only spawn code (clone() with pidfds,
                             vfork()): every spawn takes the locked path with fork(),
                             as on a platform without them (`make test-portable`)
"""

import os
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
LIBUV_TREE = os.path.join('vendor', 'libuv', 'src-tree')

# libuv's own per-platform source lists (its CMakeLists.txt), in one place.
LIBUV_COMMON_SOURCES = [
    'src/fs-poll.c', 'src/idna.c', 'src/inet.c', 'src/random.c', 'src/strscpy.c',
    'src/strtok.c', 'src/thread-common.c', 'src/threadpool.c', 'src/timer.c',
    'src/uv-common.c', 'src/uv-data-getter-setters.c', 'src/version.c',
    'src/unix/async.c', 'src/unix/core.c', 'src/unix/dl.c', 'src/unix/fs.c',
    'src/unix/getaddrinfo.c', 'src/unix/getnameinfo.c', 'src/unix/loop-watcher.c',
    'src/unix/loop.c', 'src/unix/pipe.c', 'src/unix/poll.c', 'src/unix/process.c',
    'src/unix/random-devurandom.c', 'src/unix/signal.c', 'src/unix/stream.c',
    'src/unix/tcp.c', 'src/unix/thread.c', 'src/unix/tty.c', 'src/unix/udp.c',
]
LIBUV_PLATFORM_SOURCES = {
    'linux': [
        'src/unix/linux.c', 'src/unix/procfs-exepath.c', 'src/unix/proctitle.c',
        'src/unix/random-getrandom.c', 'src/unix/random-sysctl-linux.c',
    ],
    'darwin': [
        'src/unix/bsd-ifaddrs.c', 'src/unix/darwin.c', 'src/unix/darwin-proctitle.c',
        'src/unix/fsevents.c', 'src/unix/kqueue.c', 'src/unix/proctitle.c',
        'src/unix/random-getentropy.c',
    ],
}
LIBUV_PLATFORM_MACROS = {
    # libuv's epoll_pwait() (in linux.c) calls our uvloop_epoll_pwait()
    # (uvloop/loop_wait.c), which releases the GIL while it blocks.
    'linux': [('_GNU_SOURCE', '1'), ('epoll_pwait', 'uvloop_epoll_pwait'),
              ('UVLOOP_WRAPPED_POLL', '1')],
    'darwin': [('_DARWIN_UNLIMITED_SELECT', '1'), ('_DARWIN_USE_64_BIT_INODE', '1')],
}
LIBUV_PLATFORM_LIBRARIES = {'linux': ['pthread', 'dl', 'rt'], 'darwin': ['pthread']}


def env_flag(name):
    return os.environ.get(name, '') not in ('', '0')


def platform_key():
    if sys.platform.startswith('linux'):
        return 'linux'
    if sys.platform == 'darwin':
        return 'darwin'
    sys.exit(f'uvloop: unsupported platform {sys.platform!r}')


def pkg_config(*args):
    return subprocess.check_output(['pkg-config', *args, 'libuv'], text=True).split()


def libuv_build_settings():
    """(sources, include_dirs, macros, libraries, extra_link_args) for libuv."""
    if env_flag('UVLOOP_USE_SYSTEM_LIBUV'):
        includes = [flag[2:] for flag in pkg_config('--cflags-only-I')]
        return [], includes, [], [], pkg_config('--libs')
    tree = os.path.join(HERE, LIBUV_TREE)
    if not os.path.exists(os.path.join(tree, 'include', 'uv.h')):
        fetch = os.path.join(HERE, 'vendor', 'libuv', 'fetch')
        if not os.path.exists(fetch):
            sys.exit('uvloop: libuv sources are missing and there is no fetch script')
        subprocess.check_call([fetch])
    key = platform_key()
    sources = [os.path.join(LIBUV_TREE, path)
               for path in LIBUV_COMMON_SOURCES + LIBUV_PLATFORM_SOURCES[key]]
    # libuv's fork() (in process.c) calls our uvloop_fork() (uvloop/spawn/spawn.c),
    # which spawns with vfork() when it can; its waitpid() calls uvloop_waitpid(),
    # which reports a child reaped by someone else instead of waiting forever.
    macros = [('_FILE_OFFSET_BITS', '64'), ('_LARGEFILE_SOURCE', '1'),
              ('fork', 'uvloop_fork'), ('waitpid', 'uvloop_waitpid')]
    macros += LIBUV_PLATFORM_MACROS[key]
    includes = [os.path.join(LIBUV_TREE, 'include'), os.path.join(LIBUV_TREE, 'src')]
    return sources, includes, macros, LIBUV_PLATFORM_LIBRARIES[key], []


class ParallelBuildExt(build_ext):
    """Compile the ~40 C files on every core."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1


def extensions():
    from Cython.Build import cythonize

    debug = env_flag('UVLOOP_DEBUG')
    portable_spawn = env_flag('UVLOOP_PORTABLE_SPAWN')
    sources, includes, macros, libraries, link_args = libuv_build_settings()
    extension = Extension(
        'uvloop.loop',
        sources=['uvloop/loop.pyx', 'uvloop/loop_wait.c', 'uvloop/spawn/spawn.c'] +
                sources,
        include_dirs=['uvloop'] + includes,
        define_macros=macros + [('UVLOOP_DEBUG', '1' if debug else '0'),
                                ('UVLOOP_PORTABLE_SPAWN', '1' if portable_spawn else '0')],
        libraries=libraries,
        extra_link_args=link_args,
        extra_compile_args=['-O2', '-fno-strict-aliasing'] +
                           (['-g'] if debug else []),
    )
    return cythonize(
        [extension],
        build_dir=os.path.join('build', 'cython'),
        compiler_directives={
            'language_level': 3,
            'embedsignature': True,
            # Safe without the GIL: state shared between threads (the
            # call_soon_threadsafe queue, the spawn lock and forking state, debug
            # counters) has explicit guards; everything else belongs to one loop,
            # used by one thread. tests/test_free_threading.py checks the GIL stays off.
            'freethreading_compatible': True,
        },
    )


variant = 'debug' if env_flag('UVLOOP_DEBUG') else 'release'
if env_flag('UVLOOP_PORTABLE_SPAWN'):
    variant += '-portable'
setup(
    ext_modules=extensions(),
    cmdclass={'build_ext': ParallelBuildExt},
    options={'build': {'build_base': os.path.join('build', variant)}},
)
