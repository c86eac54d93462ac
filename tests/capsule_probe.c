/* A C extension written as a third-party library would write it against uvloop's
 * libuv_get_loop_t_ptr(): it runs a libuv timer on the loop's uv_loop_t.
 *
 * It links no libuv of its own (two copies of libuv must never share a loop): it
 * looks libuv's functions up in the already loaded uvloop.loop module, which exports
 * them, as upstream uvloop's module does. tests/test_capsule.py builds it.
 *
 * One timer at a time; its callback runs inside uv_run(), where the loop has released
 * the GIL, so it only counts (a plain int: the loop's thread both writes and reads it).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <uv.h>

static int (*timer_init)(uv_loop_t *, uv_timer_t *);
static int (*timer_start)(uv_timer_t *, uv_timer_cb, uint64_t, uint64_t);
static void (*handle_close)(uv_handle_t *, uv_close_cb);

static uv_timer_t *timer;
static long fired, closed;

static PyObject *
resolve(PyObject *self, PyObject *arg)
{
    const char *path = PyUnicode_AsUTF8(arg);
    if (path == NULL)
        return NULL;
    /* RTLD_NOLOAD: the module Python loaded, never a second copy. */
    void *lib = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (lib == NULL)
        return PyErr_Format(PyExc_OSError, "dlopen: %s", dlerror());
    *(void **)&timer_init = dlsym(lib, "uv_timer_init");
    *(void **)&timer_start = dlsym(lib, "uv_timer_start");
    *(void **)&handle_close = dlsym(lib, "uv_close");
    dlclose(lib);
    if (!timer_init || !timer_start || !handle_close)
        return PyErr_Format(PyExc_LookupError,
                            "uvloop.loop does not export libuv's functions");
    Py_RETURN_NONE;
}

static void
on_timer(uv_timer_t *handle)
{
    fired++;
}

static void
on_closed(uv_handle_t *handle)
{
    free(handle);
    closed++;
}

static PyObject *
start(PyObject *self, PyObject *args)
{
    PyObject *capsule;
    unsigned long long timeout_ms, repeat_ms;
    if (!PyArg_ParseTuple(args, "OKK", &capsule, &timeout_ms, &repeat_ms))
        return NULL;
    if (timer != NULL)
        return PyErr_Format(PyExc_RuntimeError, "a timer is running");
    uv_loop_t *loop = PyCapsule_GetPointer(capsule, NULL);
    if (loop == NULL)
        return NULL;
    timer = calloc(1, sizeof(*timer));
    if (timer == NULL)
        return PyErr_NoMemory();
    int err = timer_init(loop, timer);
    if (err < 0) {
        free(timer);
        timer = NULL;
        return PyErr_Format(PyExc_OSError, "uv_timer_init: %d", err);
    }
    err = timer_start(timer, on_timer, timeout_ms, repeat_ms);
    if (err < 0)
        return PyErr_Format(PyExc_OSError, "uv_timer_start: %d", err);
    Py_RETURN_NONE;
}

static PyObject *
close_timer(PyObject *self, PyObject *unused)
{
    if (timer != NULL) {
        handle_close((uv_handle_t *)timer, on_closed);
        timer = NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
counts(PyObject *self, PyObject *unused)
{
    return Py_BuildValue("{s:l,s:l}", "fired", fired, "closed", closed);
}

static PyMethodDef methods[] = {
    {"resolve", resolve, METH_O, "Look libuv up in the module at this path."},
    {"start", start, METH_VARARGS, "start(capsule, timeout_ms, repeat_ms)"},
    {"close", close_timer, METH_NOARGS, "uv_close() the timer."},
    {"counts", counts, METH_NOARGS, "Callbacks and close callbacks seen."},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot slots[] = {
#ifdef Py_GIL_DISABLED
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "capsule_probe", NULL, 0, methods, slots,
};

PyMODINIT_FUNC
PyInit_capsule_probe(void)
{
    return PyModuleDef_Init(&module);
}
