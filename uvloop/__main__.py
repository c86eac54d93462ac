"""`python -m uvloop --version`: the package and libuv versions in use."""

import sys

from . import __version__
from .loop import libuv_version_string


def main(argv):
    if argv[1:] not in ([], ['--version']):
        print('usage: python -m uvloop [--version]', file=sys.stderr)
        return 2
    print(f'uvloop {__version__} (libuv {libuv_version_string()})')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
