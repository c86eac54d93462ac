# ChildPlan: subprocess_exec/subprocess_shell's Popen-style arguments, checked and
# converted once, at the API edge, into everything the child needs between fork and
# exec (a uvloop_spawn_plan, spawn/spawn.h) plus what the parent needs around the
# spawn (the stdio specs, error-message details). Both spawn paths take the same plan.
#
# Needs: _run_preexec_fn (spawn/spawn.pyx).
#
# The argument handling follows subprocess.Popen (_execute_child): the same checks,
# the same errors, the same PATH search; and asyncio's own checks of subprocess_exec
# and subprocess_shell (`_check_subprocess_args`).

from libc.limits cimport INT_MAX

import operator
import os
import subprocess
import sys
import warnings


# Popen's keyword arguments that subprocess_exec/shell accept, with their defaults.
cdef dict _POPEN_DEFAULTS = {
    'executable': None, 'preexec_fn': None, 'close_fds': True, 'pass_fds': (),
    'cwd': None, 'env': None, 'restore_signals': True, 'start_new_session': False,
    'process_group': None, 'umask': -1, 'pipesize': -1, 'user': None, 'group': None,
    'extra_groups': None, 'startupinfo': None, 'creationflags': 0,
}


cdef _check_subprocess_args(universal_newlines, bufsize, text, encoding, errors):
    # asyncio's checks and messages (base_events.subprocess_exec/shell).
    if universal_newlines:
        raise ValueError('universal_newlines must be False')
    if bufsize != 0:
        raise ValueError('bufsize must be 0')
    if text:
        raise ValueError('text must be False')
    if encoding is not None:
        raise ValueError('encoding must be None')
    if errors is not None:
        raise ValueError('errors must be None')


cdef ChildPlan _popen_plan(args, bint shell, stdin, stdout, stderr, dict popen_kwargs):
    """The plan for Popen(args, shell=shell, stdin=..., **popen_kwargs), with
    Popen's checks and errors."""
    for name in popen_kwargs:
        if name not in _POPEN_DEFAULTS:
            raise TypeError(
                f"Popen.__init__() got an unexpected keyword argument '{name}'")
    kw = dict(_POPEN_DEFAULTS)
    kw.update(popen_kwargs)
    if kw['startupinfo'] is not None:
        raise ValueError('startupinfo is only supported on Windows platforms')
    if kw['creationflags'] != 0:
        raise ValueError('creationflags is only supported on Windows platforms')
    pass_fds = _fds_to_keep(kw['pass_fds'])
    close_fds = kw['close_fds']
    if pass_fds and not close_fds:
        warnings.warn('pass_fds overriding close_fds.', RuntimeWarning)
        close_fds = True
    process_group = kw['process_group']
    pgid = -1 if process_group is None else int(process_group)
    groups, gid, uid = _credentials(kw['user'], kw['group'], kw['extra_groups'])
    env = kw['env']

    # argv and the program, as Popen._execute_child builds them.
    if isinstance(args, (str, bytes)):
        args = [args]
    elif isinstance(args, os.PathLike):
        if shell:
            raise TypeError('path-like args is not allowed when shell is true')
        args = [args]
    else:
        args = list(args)
    executable = kw['executable']
    if shell:
        args = ['/bin/sh', '-c'] + args
        if executable:
            args[0] = executable
    if executable is None:
        executable = args[0]
    cwd = kw['cwd']
    sys.audit('subprocess.Popen', executable, args, cwd, env)

    cdef ChildPlan plan = ChildPlan.__new__(ChildPlan)
    plan._init(args, _fsencode_all(args), _exec_paths(executable, env), _env_list(env),
               pass_fds, close_fds,
               None if cwd is None else _fsencode_all((cwd,))[0], int(kw['umask']),
               operator.index(kw['restore_signals']),
               operator.index(kw['start_new_session']), pgid, groups, gid, uid,
               kw['preexec_fn'])
    plan.stdio_specs = (_stdio_spec(0, stdin), _stdio_spec(1, stdout),
                        _stdio_spec(2, stderr))
    plan.pipesize = kw['pipesize']
    plan.executable = executable
    plan.cwd = cwd
    return plan


cdef list _fds_to_keep(pass_fds):
    # As subprocess checks them (its child's fds_to_keep): ints, none negative.
    fds = [int(fd) for fd in pass_fds]
    for fd in fds:
        if fd < 0 or fd > INT_MAX:
            raise ValueError('bad value(s) in fds_to_keep')
    return fds


# Popen refuses stdout=STDOUT itself since Python 3.13; before, it was one more bad fd.
cdef bint _POPEN_REFUSES_STDOUT_TO_STDOUT = sys.version_info >= (3, 13)
# Looked up once: every spawn checks its three stdio specs against them.
cdef object _PIPE = subprocess.PIPE
cdef object _DEVNULL = subprocess.DEVNULL
cdef object _STDOUT = subprocess.STDOUT


cdef _stdio_spec(int i, spec):
    """What the child's fd `i` (0, 1, 2) gets, as the transport takes it: None
    (inherited), PIPE, DEVNULL, STDOUT (stderr only) or an fd >= 0 (a file object's
    fileno()). Under asyncio, Popen hands any other int (stdin=-5, stdin=STDOUT) to its
    child, whose dup2() fails with EBADF; that OSError is raised here, before anything
    is created."""
    if spec is None or spec == _PIPE or spec == _DEVNULL:
        return spec
    if spec == _STDOUT:
        if i == 2:
            return spec
        if i == 1 and _POPEN_REFUSES_STDOUT_TO_STDOUT:
            raise ValueError('STDOUT can only be used for stderr')
    if isinstance(spec, int):
        if spec < 0:
            raise OSError(EBADF, os.strerror(EBADF))
        return spec
    return spec.fileno()


cdef list _fsencode_all(items):
    out = []
    for item in items:
        b = os.fsencode(item)
        if b'\0' in b:
            raise ValueError('embedded null byte')
        out.append(b)
    return out


cdef _env_list(env):
    if env is None:
        return None
    out = []
    for k, v in env.items():
        k = os.fsencode(k)
        if b'=' in k:
            raise ValueError('illegal environment variable name')
        entry = k + b'=' + os.fsencode(v)
        if b'\0' in entry:
            raise ValueError('embedded null byte')
        out.append(entry)
    return out


# (program, $PATH) -> its _exec_paths() list, for children that inherit our environment:
# building the list costs more than the rest of the spawn's argument handling.
# Shared by the loops of all threads with no lock of ours: each get, set and clear is
# atomic on a dict (a per-object lock on free-threaded builds), and a lost race only
# builds a list twice.
cdef dict _exec_paths_cache = {}


cdef list _exec_paths(executable, env):
    # subprocess's executable_list: the program itself if it has a directory part,
    # else every PATH entry (of `env` when given), tried in order by the child.
    # The lists are shared: nobody changes them.
    executable = os.fsencode(executable)
    if os.path.dirname(executable):
        return [executable]
    if env is not None:
        return [os.path.join(os.fsencode(d), executable) for d in os.get_exec_path(env)]
    key = (executable, os.environ.get('PATH'))
    paths = _exec_paths_cache.get(key)
    if paths is None:
        paths = [os.path.join(os.fsencode(d), executable)
                 for d in os.get_exec_path(None)]
        if len(_exec_paths_cache) >= 256:
            _exec_paths_cache.clear()
        _exec_paths_cache[key] = paths
    return paths


cdef _group_id(group, str type_error):
    """A group name or id as an id; else TypeError(type_error naming the type)."""
    if isinstance(group, str):
        import grp
        return grp.getgrnam(group).gr_gid
    if isinstance(group, int):
        return group
    raise TypeError(type_error.format(type(group)))


cdef tuple _credentials(user, group, extra_groups):
    """(groups, gid, uid) for the child, each None when unchanged; names resolved and
    bad values rejected with subprocess.Popen's errors, before anything is created."""
    gid = groups = uid = None
    if group is not None:
        gid = _group_id(group, 'Group must be a string or an integer, not {}')
        if gid < 0:
            raise ValueError(f'Group ID cannot be negative, got {gid}')
    if extra_groups is not None:
        if isinstance(extra_groups, str):
            raise ValueError('Groups must be a list, not a string')
        groups = [_group_id(g, 'Items in extra_groups must be a string or integer, '
                               'not {}')
                  for g in extra_groups]
        for g in groups:
            if g < 0:
                raise ValueError(f'Group ID cannot be negative, got {g}')
    if user is not None:
        if isinstance(user, str):
            import pwd
            uid = pwd.getpwnam(user).pw_uid
        elif isinstance(user, int):
            uid = user
        else:
            raise TypeError('User must be a string or an integer')
        if uid < 0:
            raise ValueError(f'User ID cannot be negative, got {uid}')
    return groups, gid, uid


cdef class ChildPlan:
    """What the child does between fork and exec (a uvloop_spawn_plan), with every
    buffer it points into allocated here, before fork. Made by _popen_plan()."""

    def __cinit__(self):
        self._argv = NULL
        self._envp = NULL
        self._exec_paths = NULL
        self._keep_fds = NULL
        self._groups = NULL

    def __dealloc__(self):
        PyMem_RawFree(self._argv)
        PyMem_RawFree(self._envp)
        PyMem_RawFree(self._exec_paths)
        PyMem_RawFree(self._keep_fds)
        PyMem_RawFree(self._groups)

    cdef _init(self, list args, list argv, list exec_paths, env_list, list pass_fds,
               bint close_fds, cwd, int umask, bint restore_signals,
               bint start_new_session, int pgid, groups, gid, uid, preexec_fn):
        """argv, exec_paths, env_list: lists of bytes (env_list None: inherit).
        groups, gid, uid: None (unchanged), else a list of ids and two ids."""
        self.args = args
        self._buffers = []
        self._argv = self._cstrings(argv)
        self.plan.argv = self._argv
        self._exec_paths = self._cstrings(exec_paths)
        self.plan.exec_paths = self._exec_paths
        self.plan.exec_count = len(exec_paths)
        if env_list is not None:
            self._envp = self._cstrings(env_list)
            self.plan.envp = self._envp
        else:
            self.plan.envp = NULL
        for i in range(3):
            self.plan.stdio[i] = -1
        # Room for the error pipe, added once it exists.
        keep = sorted(set(pass_fds))
        self._keep_fds = <int*>PyMem_RawMalloc((len(keep) + 1) * sizeof(int))
        if self._keep_fds is NULL:
            raise MemoryError()
        for i, fd in enumerate(keep):
            self._keep_fds[i] = fd
        self.plan.keep_fds = self._keep_fds
        self.plan.keep_count = len(keep)
        self.plan.close_fds = close_fds
        if cwd is not None:
            self._buffers.append(cwd)
            self.plan.cwd = <bytes>cwd
        else:
            self.plan.cwd = NULL
        self.plan.umask = umask
        self.plan.restore_signals = restore_signals
        self.plan.start_new_session = start_new_session
        self.plan.pgid = pgid
        self._set_credentials(groups, gid, uid)
        self.plan.errpipe = -1
        self.plan.report = &self.report
        self.preexec_fn = preexec_fn
        if preexec_fn is not None:
            import pickle    # imported here, not in the child (for its failure report)
            self.plan.preexec = _run_preexec_fn
            self.plan.preexec_arg = <void*>preexec_fn
        else:
            self.plan.preexec = NULL
            self.plan.preexec_arg = NULL
        self.needs_fork = (preexec_fn is not None or groups is not None or
                           gid is not None or uid is not None)

    cdef _set_credentials(self, groups, gid, uid):
        cdef Py_ssize_t i
        self.plan.ngroups = -1
        if groups is not None:
            self._groups = <gid_t*>PyMem_RawMalloc((len(groups) + 1) * sizeof(gid_t))
            if self._groups is NULL:
                raise MemoryError()
            for i, group in enumerate(groups):
                self._groups[i] = group
            self.plan.groups = self._groups
            self.plan.ngroups = len(groups)
        self.plan.gid = -1 if gid is None else gid
        self.plan.uid = -1 if uid is None else uid

    cdef char** _cstrings(self, list items) except NULL:
        cdef char** array = <char**>PyMem_RawMalloc((len(items) + 1) * sizeof(char*))
        cdef Py_ssize_t i
        if array is NULL:
            raise MemoryError()
        for i, item in enumerate(items):
            self._buffers.append(item)
            array[i] = <bytes>item
        array[len(items)] = NULL
        return array

    cdef set_stdio(self, int i, int fd):
        """The child's fd `i` (0, 1, 2) becomes a copy of our `fd` (-1: inherited)."""
        self.plan.stdio[i] = fd

    cdef set_errpipe(self, int fd):
        # keep_fds stays sorted: insert the error pipe in its place.
        cdef int i = self.plan.keep_count
        while i > 0 and self._keep_fds[i - 1] > fd:
            self._keep_fds[i] = self._keep_fds[i - 1]
            i -= 1
        self._keep_fds[i] = fd
        self.plan.keep_count += 1
        self.plan.errpipe = fd
