"""Build the extension `uvloop.loop`: our Cython sources plus libuv's C sources.

Environment variables read at build time:
  UVLOOP_DEBUG=1             compile in the debug counters (live handles, requests, ...)
  UVLOOP_USE_SYSTEM_LIBUV=1  link the system libuv (pkg-config libuv) instead of
                             compiling vendor/libuv/src-tree
  UVLOOP_PORTABLE_SPAWN=1    leave out the Linux-only spawn code (clone() with pidfds,
                             vfork()): every spawn takes the locked path with fork(),
                             as on a platform without them (`make test-portable`)

From a git checkout Cython turns each .pyx into C. An sdist ships that C next to the
.pyx, along with libuv's sources, so installing from it needs a C compiler only.
"""

import glob
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.sdist import sdist

HERE = os.path.dirname(os.path.abspath(__file__))
LIBUV_TREE = os.path.join('vendor', 'libuv', 'src-tree')
CYTHON_BUILD_DIR = os.path.join('build', 'cython')
# Only an unpacked sdist has PKG-INFO at its top.
FROM_SDIST = os.path.exists(os.path.join(HERE, 'PKG-INFO'))

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
# LICENSE-extra covers the parts libuv took from elsewhere (inet.c: ISC, tree.h: BSD).
LIBUV_LICENSE_FILES = ['LICENSE', 'LICENSE-extra']


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


def fetch_libuv_if_missing():
    tree = os.path.join(HERE, LIBUV_TREE)
    if not os.path.exists(os.path.join(tree, 'include', 'uv.h')):
        fetch = os.path.join(HERE, 'vendor', 'libuv', 'fetch')
        if not os.path.exists(fetch):
            sys.exit('uvloop: libuv sources are missing and there is no fetch script')
        subprocess.check_call([fetch])


def libuv_build_settings():
    """(sources, include_dirs, macros, libraries, extra_link_args) for libuv."""
    if env_flag('UVLOOP_USE_SYSTEM_LIBUV'):
        includes = [flag[2:] for flag in pkg_config('--cflags-only-I')]
        return [], includes, [], [], pkg_config('--libs')
    fetch_libuv_if_missing()
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


def libuv_sdist_files():
    """What an sdist needs of libuv to build offline on every platform listed above:
    the licences, the headers and those platforms' sources."""
    fetch_libuv_if_missing()
    headers = []
    for pattern in ('include/**/*.h', 'src/*.h', 'src/unix/*.h'):
        headers += glob.glob(os.path.join(LIBUV_TREE, pattern), root_dir=HERE,
                             recursive=True)
    sources = set(LIBUV_COMMON_SOURCES).union(*LIBUV_PLATFORM_SOURCES.values())
    return sorted(headers) + [os.path.join(LIBUV_TREE, name)
                              for name in LIBUV_LICENSE_FILES + sorted(sources)]


def license_files():
    """Ours, and libuv's when it is compiled in (the wheel then holds libuv's code)."""
    files = ['LICENSE', 'NOTICE']
    if not env_flag('UVLOOP_USE_SYSTEM_LIBUV'):
        files += [os.path.join(LIBUV_TREE, name) for name in LIBUV_LICENSE_FILES]
    return files


class ParallelBuildExt(build_ext):
    """Compile the ~40 C files on every core."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1


class SdistWithGeneratedC(sdist):
    """Add libuv (every known platform) and the C generated from each .pyx, placed next
    to its .pyx, where extensions() looks for it when building from the sdist."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, sorted(set(files) | set(libuv_sdist_files())))
        for extension in self.distribution.ext_modules:
            for source in extension.sources:
                if os.path.commonpath([source, CYTHON_BUILD_DIR]) != CYTHON_BUILD_DIR:
                    continue
                target = os.path.join(base_dir, os.path.relpath(source, CYTHON_BUILD_DIR))
                # Not copied over: the release tree may hard-link a file of the checkout.
                if os.path.exists(target):
                    os.unlink(target)
                shutil.copyfile(source, target)


def with_generated_c(extension):
    """The extension built from the C shipped next to each .pyx (no Cython needed)."""
    extension.sources = [os.path.splitext(source)[0] + '.c' if source.endswith('.pyx')
                         else source for source in extension.sources]
    missing = [source for source in extension.sources
               if not os.path.exists(os.path.join(HERE, source))]
    if missing:
        sys.exit(f'uvloop: missing {", ".join(missing)}: the sdist ships the C generated '
                 'from the .pyx files; a git checkout needs Cython (see pyproject.toml)')
    return extension


def extensions():
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
    try:
        from Cython.Build import cythonize
    except ImportError:
        cythonize = None
    # From an sdist the shipped C is used even when Cython is present: it is the C that
    # was tested, and it stays the same whatever Cython the user has.
    if FROM_SDIST or cythonize is None:
        return [with_generated_c(extension)]
    return cythonize(
        [extension],
        build_dir=CYTHON_BUILD_DIR,
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
    cmdclass={'build_ext': ParallelBuildExt, 'sdist': SdistWithGeneratedC},
    license_files=license_files(),
    options={'build': {'build_base': os.path.join('build', variant)}},
)
