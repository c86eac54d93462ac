# CPython C-API functions that Cython does not declare for us. Declarations only.

from cpython.object cimport PyObject


cdef extern from "Python.h":
    Py_ssize_t PY_SSIZE_T_MAX

    int PyContext_Enter(object ctx) except -1
    int PyContext_Exit(object ctx) except -1
    object PyContext_CopyCurrent()

    int PyCallable_Check(object o)
    bint PyFunction_Check(object o)
    bint PyMethod_Check(object o)
    # Borrowed references.
    PyObject* PyMethod_GET_FUNCTION(object meth)
    PyObject* PyFunction_GET_CODE(object func)
    int PyErr_CheckSignals() except -1

    void PyOS_BeforeFork()
    void PyOS_AfterFork_Parent()
    void PyOS_AfterFork_Child()

    ctypedef void* PyThread_type_lock
    PyThread_type_lock PyThread_allocate_lock()
    void PyThread_free_lock(PyThread_type_lock lock)
    int PyThread_acquire_lock(PyThread_type_lock lock, int waitflag) nogil
    void PyThread_release_lock(PyThread_type_lock lock) nogil
    int WAIT_LOCK
    int NOWAIT_LOCK


    void* PyMem_RawMalloc(size_t n) nogil
    void* PyMem_RawCalloc(size_t nelem, size_t elsize) nogil
    void PyMem_RawFree(void* p) nogil

    void PyObject_GC_Track(object o)
    void PyObject_GC_UnTrack(object o)

    object PyUnicode_EncodeFSDefault(object unicode)
    object PyUnicode_DecodeFSDefault(const char* s)


cdef extern from "Python.h":
    # co_flags of a code object, to tell coroutine functions apart cheaply.
    ctypedef struct PyCodeObject:
        int co_flags
    int CO_COROUTINE


cdef extern from *:
    """
    /* Untracking queued Handles (callbacks.pyx) needs the GIL's guarantees: on a
     * free-threaded build another thread may run the collector meanwhile. */
    #ifdef Py_GIL_DISABLED
    #define UVLOOP_UNTRACK_QUEUED_HANDLES 0
    #define UVLOOP_FREE_THREADED 1
    #else
    #define UVLOOP_UNTRACK_QUEUED_HANDLES 1
    #define UVLOOP_FREE_THREADED 0
    #endif
    """
    const bint UVLOOP_UNTRACK_QUEUED_HANDLES
    # A free-threaded build: no GIL guards what threads share.
    const bint UVLOOP_FREE_THREADED


cdef extern from *:
    """
    /* PyOS_BeforeFork() takes the runtime's lock (HEAD_LOCK) from Python 3.13 on. */
    #define UVLOOP_FORK_HOLDS_RUNTIME_LOCK (PY_VERSION_HEX >= 0x030D0000)
    """
    const bint UVLOOP_FORK_HOLDS_RUNTIME_LOCK


cdef extern from "includes/atomics.h" nogil:
    int uvloop_atomic_load_int(const int* p)
    void uvloop_atomic_store_int(int* p, int value)
