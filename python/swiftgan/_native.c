/*
 * swiftgan._native — the thin CPython binding of libswiftgan.so (swiftgan.h).
 *
 * It parses arguments, turns buffers into arrays (float32, C-contiguous, with their shapes), releases the GIL while
 * Swift computes, and maps statuses to exceptions: SG_INVALID_ARGUMENT -> ValueError, SG_ENGINE_ERROR ->
 * SwiftGANError, SG_DIVERGED -> TrainingDivergedError, SG_OUT_OF_MEMORY -> MemoryError. It names no loss, penalty
 * or architecture, and checks no value: the core does, and words the messages a user reads.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "swiftgan.h"

static PyObject *SwiftGANError, *TrainingDivergedError;

/* ---- helpers ------------------------------------------------------------ */

static PyObject *raise_status(sg_status status) {
    PyErr_SetString(status == SG_INVALID_ARGUMENT ? PyExc_ValueError
                    : status == SG_DIVERGED     ? TrainingDivergedError
                    : status == SG_OUT_OF_MEMORY ? PyExc_MemoryError
                                                : SwiftGANError,
                    sg_last_error());
    return NULL;
}

/* Gets obj's buffer as C-contiguous values of struct format `format` ("f" float32, "d" float64, "q" int64;
 * writable when asked), of any shape. Returns 0 on success, -1 with an exception set. */
static int get_typed(PyObject *obj, Py_buffer *view, int writable, const char *name, const char *format,
                     Py_ssize_t itemsize, const char *type) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) != 0) {
        PyErr_Format(PyExc_TypeError, "%s must be a %sC-contiguous %s buffer", name, writable ? "writable " : "", type);
        return -1;
    }
    const char *got = view->format ? view->format : "B";
    if (got[0] == '<' || got[0] == '=' || got[0] == '@') got++;  /* native byte order */
    int same = strcmp(got, format) == 0 || (strcmp(format, "q") == 0 && strcmp(got, "l") == 0); /* LP64 long */
    if (view->itemsize != itemsize || !same) {
        PyErr_Format(PyExc_TypeError, "%s must hold %s values (format '%s'), got format '%s'", name, type, format,
                     view->format ? view->format : "B");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static int get_float32(PyObject *obj, Py_buffer *view, int writable, const char *name) {
    return get_typed(obj, view, writable, name, "f", 4, "float32");
}

/* get_float32 of exactly `count` floats. */
static int get_floats(PyObject *obj, Py_buffer *view, Py_ssize_t count, int writable, const char *name) {
    if (get_float32(obj, view, writable, name)) return -1;
    if (view->len != count * 4) {
        PyErr_Format(PyExc_ValueError, "%s must hold %zd floats, got %zd", name, count, view->len / 4);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static void release(Py_buffer *view) {
    if (view->obj) PyBuffer_Release(view);
}

/* Fills `array` from obj, a float32 buffer of any shape, or None (values NULL).
 * Returns 0 on success, -1 with an exception set. The shape is the core's to check. */
static int get_array(PyObject *obj, Py_buffer *view, sg_array *array, const char *name) {
    memset(array, 0, sizeof *array);
    if (obj == Py_None) return 0;
    if (get_float32(obj, view, 0, name)) return -1;
    if (view->ndim > SG_MAX_DIMS) {
        PyErr_Format(PyExc_ValueError, "%s has %d dimensions, at most %d are supported", name, view->ndim, SG_MAX_DIMS);
        PyBuffer_Release(view);
        return -1;
    }
    array->values = view->buf;
    array->count = view->len / 4;
    array->ndim = view->ndim;
    for (int i = 0; i < view->ndim; i++) array->shape[i] = view->shape[i];
    return 0;
}

/* A library text (sg_catalogue, sg_profile_read, sg_options, a handle's configuration): its size asked first,
 * then read, through an adapter that passes `context` (the catalogue's `what`, a handle). */
typedef sg_status (*text_reader)(void *context, char *buffer, int64_t capacity, int64_t *needed);

static PyObject *read_text(text_reader read, void *context) {
    int64_t needed = 0;
    char small[1];
    sg_status st = read(context, small, 0, &needed);
    if (st != SG_OK && needed == 0) return raise_status(st);
    char *text = PyMem_Malloc((size_t)needed);
    if (!text) return PyErr_NoMemory();
    st = read(context, text, needed, &needed);
    PyObject *result = st == SG_OK ? PyUnicode_FromString(text) : raise_status(st);
    PyMem_Free(text);
    return result;
}

/* ---- Handle type: any handle kind (sg_handle*) --------------------------------- */

/* One Python type serves every handle kind; the library refuses a call of another kind (a GAN's train_step on a
 * feature network). A handle's calls may run in several threads: the library serialises them, and a close() while
 * another thread's call runs (with the GIL released) ends the engine when that call returns; later calls raise
 * ValueError. */
typedef struct {
    PyObject_HEAD
    sg_handle *handle;
    const char *what; /* "GAN", "feature network": for the closed message */
} Handle;

static int check_open(Handle *self) {
    if (self->handle == NULL) {
        PyErr_Format(PyExc_ValueError, "the %s is closed", self->what);
        return -1;
    }
    return 0;
}

static void Handle_dealloc(Handle *self) {
    sg_handle_free(self->handle);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Handle_close(Handle *self, PyObject *unused) {
    sg_handle_free(self->handle);
    self->handle = NULL;
    Py_RETURN_NONE;
}

static PyObject *Handle_closed(Handle *self, void *unused) { return PyBool_FromLong(self->handle == NULL); }

static sg_status config_text(void *handle, char *buffer, int64_t capacity, int64_t *needed) {
    return sg_handle_config((sg_handle *)handle, buffer, capacity, needed);
}

static sg_status step_inputs_text(void *handle, char *buffer, int64_t capacity, int64_t *needed) {
    return sg_gan_step_inputs((sg_handle *)handle, buffer, capacity, needed);
}

static sg_status scalars_text(void *handle, char *buffer, int64_t capacity, int64_t *needed) {
    return sg_gan_scalars_read((sg_handle *)handle, buffer, capacity, needed);
}

/* A handle's text (configuration, step inputs, scalars). */
static PyObject *handle_text(Handle *self, text_reader read) {
    if (check_open(self)) return NULL;
    return read_text(read, self->handle);
}

static PyObject *Handle_config(Handle *self, PyObject *unused) { return handle_text(self, config_text); }
static PyObject *Handle_step_inputs(Handle *self, PyObject *unused) { return handle_text(self, step_inputs_text); }
static PyObject *Handle_scalars(Handle *self, PyObject *unused) { return handle_text(self, scalars_text); }

/* train_step(inputs): a sequence of (name, float32 array) pairs; the core checks the names and shapes */
static PyObject *Handle_train_step(Handle *self, PyObject *args) {
    PyObject *given;
    if (!PyArg_ParseTuple(args, "O", &given)) return NULL;
    if (check_open(self)) return NULL;
    PyObject *items = PySequence_Fast(given, "inputs must be a sequence of (name, array) pairs");
    if (!items) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(items);
    if (n > 64) {
        Py_DECREF(items);
        PyErr_Format(PyExc_ValueError, "at most 64 inputs, got %zd", n);
        return NULL;
    }
    sg_named_array inputs[64];
    Py_buffer views[64];
    memset(views, 0, sizeof views);
    Py_ssize_t ready = 0;
    for (; ready < n; ready++) {
        const char *name;
        PyObject *array, *pair = PySequence_Fast_GET_ITEM(items, ready);
        if (!PyTuple_Check(pair)) {
            PyErr_SetString(PyExc_TypeError, "inputs must be (name, array) pairs");
            break;
        }
        if (!PyArg_ParseTuple(pair, "sO", &name, &array)) break;
        inputs[ready].name = name; /* kept alive by `items` */
        if (get_array(array, &views[ready], &inputs[ready].array, name)) break;
    }
    sg_status st = SG_OK;
    double stats[SG_STAT_COUNT] = {0};
    if (ready == n) {
        sg_handle *handle = self->handle;
        Py_BEGIN_ALLOW_THREADS
        st = sg_gan_train_step(handle, inputs, (int32_t)n, stats, SG_STAT_COUNT);
        Py_END_ALLOW_THREADS
    }
    for (Py_ssize_t i = 0; i < ready; i++) release(&views[i]);
    Py_DECREF(items);
    if (ready != n) return NULL;
    if (st != SG_OK) return raise_status(st);
    PyObject *result = PyTuple_New(SG_STAT_COUNT);
    if (!result) return NULL;
    for (int i = 0; i < SG_STAT_COUNT; i++) PyTuple_SET_ITEM(result, i, PyFloat_FromDouble(stats[i]));
    return result;
}

/* generate(z, out) */
static PyObject *Handle_generate(Handle *self, PyObject *args) {
    PyObject *z, *out;
    if (!PyArg_ParseTuple(args, "OO", &z, &out)) return NULL;
    if (check_open(self)) return NULL;
    Py_buffer vz = {0}, vo = {0};
    sg_array latents;
    if (get_array(z, &vz, &latents, "z")) return NULL;
    if (get_float32(out, &vo, 1, "out")) {
        release(&vz);
        return NULL;
    }
    sg_status st;
    sg_handle *handle = self->handle;
    Py_BEGIN_ALLOW_THREADS
    st = sg_gan_generate(handle, &latents, vo.buf, vo.len / 4);
    Py_END_ALLOW_THREADS
    release(&vz); release(&vo);
    if (st != SG_OK) return raise_status(st);
    Py_RETURN_NONE;
}

/* sample(n, out) */
static PyObject *Handle_sample(Handle *self, PyObject *args) {
    PyObject *out;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "nO", &n, &out)) return NULL;
    if (check_open(self)) return NULL;
    Py_buffer vo = {0};
    if (get_float32(out, &vo, 1, "out")) return NULL;
    sg_status st;
    sg_handle *handle = self->handle;
    Py_BEGIN_ALLOW_THREADS
    st = sg_gan_sample(handle, n, vo.buf, vo.len / 4);
    Py_END_ALLOW_THREADS
    release(&vo);
    if (st != SG_OK) return raise_status(st);
    Py_RETURN_NONE;
}

/* features_train_step(images, labels) -> (loss, accuracy); labels: a C-contiguous int32 buffer */
static PyObject *Handle_features_train_step(Handle *self, PyObject *args) {
    PyObject *images, *labels;
    if (!PyArg_ParseTuple(args, "OO", &images, &labels)) return NULL;
    if (check_open(self)) return NULL;
    Py_buffer vi = {0}, vl = {0};
    sg_array x;
    if (get_array(images, &vi, &x, "images")) return NULL;
    if (PyObject_GetBuffer(labels, &vl, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0 || vl.itemsize != 4 || !vl.format ||
        (strcmp(vl.format, "i") != 0 && strcmp(vl.format, "l") != 0 && strcmp(vl.format, "=i") != 0)) {
        if (vl.obj) PyBuffer_Release(&vl);
        release(&vi);
        PyErr_SetString(PyExc_TypeError, "labels must be a C-contiguous int32 buffer");
        return NULL;
    }
    double stats[2] = {0, 0};
    sg_status st;
    sg_handle *handle = self->handle;
    Py_BEGIN_ALLOW_THREADS
    st = sg_features_train_step(handle, &x, vl.buf, vl.len / 4, stats);
    Py_END_ALLOW_THREADS
    release(&vi); release(&vl);
    if (st != SG_OK) return raise_status(st);
    return Py_BuildValue("(dd)", stats[0], stats[1]);
}

/* features_evaluate(images, logits, out) */
static PyObject *Handle_features_evaluate(Handle *self, PyObject *args) {
    PyObject *images, *out;
    int logits;
    if (!PyArg_ParseTuple(args, "OpO", &images, &logits, &out)) return NULL;
    if (check_open(self)) return NULL;
    Py_buffer vi = {0}, vo = {0};
    sg_array x;
    if (get_array(images, &vi, &x, "images")) return NULL;
    if (get_float32(out, &vo, 1, "out")) { release(&vi); return NULL; }
    sg_status st;
    sg_handle *handle = self->handle;
    Py_BEGIN_ALLOW_THREADS
    st = sg_features_evaluate(handle, &x, logits, vo.buf, vo.len / 4);
    Py_END_ALLOW_THREADS
    release(&vi); release(&vo);
    if (st != SG_OK) return raise_status(st);
    Py_RETURN_NONE;
}

static PyObject *Handle_tensor_count(Handle *self, PyObject *args) {
    int which;
    if (!PyArg_ParseTuple(args, "i", &which)) return NULL;
    if (check_open(self)) return NULL;
    int64_t count = 0;
    sg_status st = sg_tensor_count(self->handle, which, &count);
    return st == SG_OK ? PyLong_FromLongLong(count) : raise_status(st);
}

static PyObject *Handle_tensor_info(Handle *self, PyObject *args) {
    Py_ssize_t index;
    int which;
    if (!PyArg_ParseTuple(args, "in", &which, &index)) return NULL;
    if (check_open(self)) return NULL;
    const char *name = NULL;
    int32_t ndim = 0;
    int64_t shape[SG_MAX_DIMS];
    sg_status st = sg_tensor_info(self->handle, which, index, &name, &ndim, shape);
    if (st != SG_OK) return raise_status(st);
    PyObject *dims = PyTuple_New(ndim);
    if (!dims) return NULL;
    for (int i = 0; i < ndim; i++) PyTuple_SET_ITEM(dims, i, PyLong_FromLongLong(shape[i]));
    return Py_BuildValue("(sN)", name, dims);
}

static PyObject *Handle_tensor_read(Handle *self, PyObject *args) {
    Py_ssize_t index;
    int which;
    PyObject *out;
    if (!PyArg_ParseTuple(args, "inO", &which, &index, &out)) return NULL;
    if (check_open(self)) return NULL;
    Py_buffer vo = {0};
    if (get_float32(out, &vo, 1, "out")) return NULL;
    sg_status st = sg_tensor_read(self->handle, which, index, vo.buf, vo.len / 4);
    release(&vo);
    if (st != SG_OK) return raise_status(st);
    Py_RETURN_NONE;
}

/* tensor_write(which, [(index, float32 array), ...]): all checked by the core, then all written */
static PyObject *Handle_tensor_write(Handle *self, PyObject *args) {
    int which;
    PyObject *given;
    if (!PyArg_ParseTuple(args, "iO", &which, &given)) return NULL;
    if (check_open(self)) return NULL;
    PyObject *items = PySequence_Fast(given, "tensors must be a sequence of (index, array) pairs");
    if (!items) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(items), ready = 0;
    int64_t *indices = PyMem_Calloc(n + 1, sizeof *indices);
    sg_array *arrays = PyMem_Calloc(n + 1, sizeof *arrays);
    Py_buffer *views = PyMem_Calloc(n + 1, sizeof *views);
    if (!indices || !arrays || !views) {
        PyErr_NoMemory();
    } else {
        for (; ready < n; ready++) {
            Py_ssize_t index;
            PyObject *array, *pair = PySequence_Fast_GET_ITEM(items, ready);
            if (!PyTuple_Check(pair)) {
                PyErr_SetString(PyExc_TypeError, "tensors must be (index, array) pairs");
                break;
            }
            if (!PyArg_ParseTuple(pair, "nO", &index, &array)) break;
            if (get_array(array, &views[ready], &arrays[ready], "values")) break;
            indices[ready] = index;
        }
    }
    sg_status st = SG_OK;
    if (!PyErr_Occurred()) st = sg_tensor_write(self->handle, which, n, indices, arrays);
    for (Py_ssize_t i = 0; i < ready; i++) release(&views[i]);
    PyMem_Free(indices); PyMem_Free(arrays); PyMem_Free(views);
    Py_DECREF(items);
    if (PyErr_Occurred()) return NULL;
    if (st != SG_OK) return raise_status(st);
    Py_RETURN_NONE;
}

static PyObject *Handle_set_retain_gradients(Handle *self, PyObject *args) {
    int on;
    if (!PyArg_ParseTuple(args, "p", &on)) return NULL;
    if (check_open(self)) return NULL;
    sg_status st = sg_gan_set_retain_gradients(self->handle, on);
    if (st != SG_OK) return raise_status(st);
    Py_RETURN_NONE;
}

static PyObject *Handle_set_threads(Handle *self, PyObject *args) {
    int threads;
    if (!PyArg_ParseTuple(args, "i", &threads)) return NULL;
    if (check_open(self)) return NULL;
    sg_status st = sg_handle_set_threads(self->handle, threads);
    if (st != SG_OK) return raise_status(st);
    Py_RETURN_NONE;
}

static PyObject *Handle_threads(Handle *self, PyObject *unused) {
    if (check_open(self)) return NULL;
    int32_t threads = 0;
    sg_status st = sg_handle_get_threads(self->handle, &threads);
    if (st != SG_OK) return raise_status(st);
    return PyLong_FromLong(threads);
}

/* ---- a host communicator (sg_communicator) over a Python object ----------------------------------------- */

/* The object (swiftgan.distributed.MPICommunicator, or any with the same methods) is the context; each collective
 * calls its method with writable memoryviews of the library's buffers (no copy) and counts any exception or a
 * non-zero result as the collective's failure (the object keeps its own message). The library calls these from the
 * thread running a step, whose GIL was released: each takes it back. */

/* Calls context.method(*arguments) (a new tuple, or NULL after a failure building it, which this releases), with
 * the GIL held: 0 when it returned None or 0, else (a non-zero result, or an exception, reported as unraisable) 1. */
static int32_t call_method(void *context, const char *method, PyObject *arguments) {
    PyObject *callable = arguments ? PyObject_GetAttrString((PyObject *)context, method) : NULL;
    PyObject *result = callable ? PyObject_CallObject(callable, arguments) : NULL;
    int32_t status = 1;
    if (result) status = result == Py_None ? 0 : (int32_t)PyLong_AsLong(result);
    if (PyErr_Occurred()) {
        PyErr_WriteUnraisable(callable ? callable : (PyObject *)context);
        status = 1;
    }
    Py_XDECREF(result);
    Py_XDECREF(callable);
    Py_XDECREF(arguments);
    return status;
}

/* A memoryview of the library's buffer (the GIL held). */
static PyObject *view_of(void *buffer, int64_t bytes, int writable) {
    static char empty;
    return PyMemoryView_FromMemory(buffer ? (char *)buffer : &empty, (Py_ssize_t)bytes, writable ? PyBUF_WRITE : PyBUF_READ);
}

static int32_t host_all_reduce(void *context, void *buffer, int64_t bytes, const char *kind, int32_t op) {
    PyGILState_STATE gil = PyGILState_Ensure();
    int32_t status = call_method(context, "all_reduce", Py_BuildValue("(Nsi)", view_of(buffer, bytes, 1), kind, (int)op));
    PyGILState_Release(gil);
    return status;
}

static int32_t host_all_reduce_f32(void *context, float *buffer, int64_t count, int32_t op) {
    return host_all_reduce(context, buffer, count * 4, "f", op);
}

static int32_t host_all_reduce_f64(void *context, double *buffer, int64_t count, int32_t op) {
    return host_all_reduce(context, buffer, count * 8, "d", op);
}

static int32_t host_all_gather_f32(void *context, float *gathered, const float *local, int64_t count) {
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *size = PyObject_GetAttrString((PyObject *)context, "size");
    long ranks = size ? PyLong_AsLong(size) : -1;
    Py_XDECREF(size);
    int32_t status = 1;
    if (ranks >= 1 && !PyErr_Occurred())
        status = call_method(context, "all_gather", Py_BuildValue("(NN)", view_of(gathered, (int64_t)ranks * count * 4, 1),
                                                                  view_of((void *)local, count * 4, 0)));
    else
        PyErr_Clear();
    PyGILState_Release(gil);
    return status;
}

static int32_t host_broadcast_f32(void *context, float *buffer, int64_t count, int32_t root) {
    PyGILState_STATE gil = PyGILState_Ensure();
    int32_t status = call_method(context, "broadcast", Py_BuildValue("(Ni)", view_of(buffer, count * 4, 1), (int)root));
    PyGILState_Release(gil);
    return status;
}

static int32_t host_barrier(void *context) {
    PyGILState_STATE gil = PyGILState_Ensure();
    int32_t status = call_method(context, "barrier", PyTuple_New(0));
    PyGILState_Release(gil);
    return status;
}

static void host_abandon(void *context, const char *message) {
    PyGILState_STATE gil = PyGILState_Ensure();
    call_method(context, "abandon", Py_BuildValue("(s)", message));
    PyGILState_Release(gil);
}

static void host_release(void *context) {
    PyGILState_STATE gil = PyGILState_Ensure();
    Py_DECREF((PyObject *)context);
    PyGILState_Release(gil);
}

/* set_communicator(comm or None): comm has integer attributes rank and size and the methods all_reduce(view, kind,
 * op), all_gather(gathered, local), broadcast(view, root), barrier(), abandon(message). */
static PyObject *Handle_set_communicator(Handle *self, PyObject *args) {
    PyObject *comm;
    if (!PyArg_ParseTuple(args, "O", &comm)) return NULL;
    if (check_open(self)) return NULL;
    if (comm == Py_None) {
        sg_status st = sg_gan_set_communicator(self->handle, NULL);
        if (st != SG_OK) return raise_status(st);
        Py_RETURN_NONE;
    }
    PyObject *rank = PyObject_GetAttrString(comm, "rank"), *size = rank ? PyObject_GetAttrString(comm, "size") : NULL;
    long r = rank ? PyLong_AsLong(rank) : -1, n = size ? PyLong_AsLong(size) : -1;
    Py_XDECREF(rank);
    Py_XDECREF(size);
    if (PyErr_Occurred()) return NULL;
    sg_communicator host = {comm, (int32_t)r, (int32_t)n, host_all_reduce_f32, host_all_reduce_f64, host_all_gather_f32,
                            host_broadcast_f32, host_barrier, host_abandon, host_release};
    Py_INCREF(comm);  /* released by the library (host_release), or below if it refused */
    sg_status st = sg_gan_set_communicator(self->handle, &host);
    if (st != SG_OK) {
        Py_DECREF(comm);
        return raise_status(st);
    }
    Py_RETURN_NONE;
}

/* set_scalars(text) */
static PyObject *Handle_set_scalars(Handle *self, PyObject *args) {
    const char *text;
    if (!PyArg_ParseTuple(args, "s", &text)) return NULL;
    if (check_open(self)) return NULL;
    sg_status st = sg_gan_scalars_write(self->handle, text);
    if (st != SG_OK) return raise_status(st);
    Py_RETURN_NONE;
}

static PyMethodDef Handle_methods[] = {
    {"close", (PyCFunction)Handle_close, METH_NOARGS, "Frees the engine; further calls raise ValueError."},
    {"config", (PyCFunction)Handle_config, METH_NOARGS, "The resolved configuration as key=value lines."},
    {"set_threads", (PyCFunction)Handle_set_threads, METH_VARARGS, "Threads this handle's calls use (0: the default)."},
    {"threads", (PyCFunction)Handle_threads, METH_NOARGS, "Threads this handle's calls use."},
    {"tensor_count", (PyCFunction)Handle_tensor_count, METH_VARARGS, "Number of model (0), all (1) or gradient (2) tensors."},
    {"tensor_info", (PyCFunction)Handle_tensor_info, METH_VARARGS, "(name, shape) of a tensor."},
    {"tensor_read", (PyCFunction)Handle_tensor_read, METH_VARARGS, "Copies a tensor into out."},
    {"tensor_write", (PyCFunction)Handle_tensor_write, METH_VARARGS, "Overwrites tensors from (index, array) pairs, all or none."},
    {"step_inputs", (PyCFunction)Handle_step_inputs, METH_NOARGS, "A GAN: name\\tshape\\tper_step\\tmeaning lines of its step's inputs."},
    {"train_step", (PyCFunction)Handle_train_step, METH_VARARGS, "A GAN: one training iteration on (name, array) pairs; the statistics."},
    {"generate", (PyCFunction)Handle_generate, METH_VARARGS, "A GAN: samples from explicit latents into out."},
    {"sample", (PyCFunction)Handle_sample, METH_VARARGS, "A GAN: samples from the engine's own latents into out."},
    {"set_retain_gradients", (PyCFunction)Handle_set_retain_gradients, METH_VARARGS, "A GAN: keeps each step's gradients."},
    {"set_communicator", (PyCFunction)Handle_set_communicator, METH_VARARGS, "A GAN: trains over the ranks of a communicator (None: alone)."},
    {"scalars", (PyCFunction)Handle_scalars, METH_NOARGS, "A GAN: the trainer's scalar state as name=value lines."},
    {"set_scalars", (PyCFunction)Handle_set_scalars, METH_VARARGS, "A GAN: restores trainer scalars from name=value lines."},
    {"features_train_step", (PyCFunction)Handle_features_train_step, METH_VARARGS, "A feature network: one Adam step on (images, int32 labels)."},
    {"features_evaluate", (PyCFunction)Handle_features_evaluate, METH_VARARGS, "A feature network: features or logits of images into out."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Handle_getset[] = {
    {"closed", (getter)Handle_closed, NULL, "Whether close() was called.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject HandleType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "swiftgan._native.Handle",
    .tp_basicsize = sizeof(Handle),
    .tp_dealloc = (destructor)Handle_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "An engine handle of any kind (sg_handle*).",
    .tp_methods = Handle_methods,
    .tp_getset = Handle_getset,
};

/* ---- module functions --------------------------------------------------- */

typedef sg_status (*creator)(const char *config, sg_handle **out);

static PyObject *create_handle(PyObject *args, creator make, const char *what) {
    const char *config;
    if (!PyArg_ParseTuple(args, "s", &config)) return NULL;
    sg_handle *handle = NULL;
    sg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = make(config, &handle);
    Py_END_ALLOW_THREADS
    if (st != SG_OK) return raise_status(st);
    Handle *h = PyObject_New(Handle, &HandleType);
    if (!h) { sg_handle_free(handle); return NULL; }
    h->handle = handle;
    h->what = what;
    return (PyObject *)h;
}

static PyObject *native_create(PyObject *module, PyObject *args) { return create_handle(args, sg_gan_create, "GAN"); }

static PyObject *native_create_features(PyObject *module, PyObject *args) {
    return create_handle(args, sg_features_create, "feature network");
}

static PyObject *native_memory_available(PyObject *module, PyObject *unused) {
    int64_t bytes = 0;
    sg_status st = sg_memory_available(&bytes);
    return st == SG_OK ? PyLong_FromLongLong(bytes) : raise_status(st);
}

static PyObject *native_abi_version(PyObject *module, PyObject *unused) { return PyLong_FromLong(sg_abi_version()); }

static sg_status catalogue_text(void *what, char *buffer, int64_t capacity, int64_t *needed) {
    return sg_catalogue(*(int32_t *)what, buffer, capacity, needed);
}

static sg_status profile_text(void *unused, char *buffer, int64_t capacity, int64_t *needed) {
    (void)unused;
    return sg_profile_read(buffer, capacity, needed);
}

static sg_status options_text(void *unused, char *buffer, int64_t capacity, int64_t *needed) {
    (void)unused;
    return sg_options(buffer, capacity, needed);
}

static PyObject *native_catalogue(PyObject *module, PyObject *args) {
    int32_t what;
    if (!PyArg_ParseTuple(args, "i", &what)) return NULL;
    return read_text(catalogue_text, &what);
}

static PyObject *native_options(PyObject *module, PyObject *unused) { return read_text(options_text, NULL); }

static sg_status features_options_text(void *unused, char *buffer, int64_t capacity, int64_t *needed) {
    (void)unused;
    return sg_features_options(buffer, capacity, needed);
}

static PyObject *native_features_options(PyObject *module, PyObject *unused) {
    return read_text(features_options_text, NULL);
}

static sg_status stat_names_text(void *unused, char *buffer, int64_t capacity, int64_t *needed) {
    (void)unused;
    return sg_stat_names(buffer, capacity, needed);
}

static PyObject *native_stat_names(PyObject *module, PyObject *unused) { return read_text(stat_names_text, NULL); }

static sg_status kernels_text(void *unused, char *buffer, int64_t capacity, int64_t *needed) {
    (void)unused;
    return sg_kernels(buffer, capacity, needed);
}

static PyObject *native_kernels(PyObject *module, PyObject *unused) { return read_text(kernels_text, NULL); }

static PyObject *native_profile_read(PyObject *module, PyObject *unused) { return read_text(profile_text, NULL); }

static PyObject *native_profile_set_enabled(PyObject *module, PyObject *args) {
    int on;
    if (!PyArg_ParseTuple(args, "p", &on)) return NULL;
    sg_profile_set_enabled(on);
    Py_RETURN_NONE;
}

static PyObject *native_profile_reset(PyObject *module, PyObject *unused) {
    sg_profile_reset();
    Py_RETURN_NONE;
}

static sg_status branch_log_text(void *unused, char *buffer, int64_t capacity, int64_t *needed) {
    (void)unused;
    return sg_branch_log_read(buffer, capacity, needed);
}

static PyObject *native_branch_log_read(PyObject *module, PyObject *unused) { return read_text(branch_log_text, NULL); }

static PyObject *native_branch_log_set_enabled(PyObject *module, PyObject *args) {
    int on;
    if (!PyArg_ParseTuple(args, "p", &on)) return NULL;
    sg_branch_log_set_enabled(on);
    Py_RETURN_NONE;
}

/* ---- sample-quality metrics ----------------------------------------------- */

/* A float64 feature buffer [count, width] (2 dimensions). */
static int get_features(PyObject *obj, Py_buffer *view, const char *name) {
    if (get_typed(obj, view, 0, name, "d", 8, "float64")) return -1;
    if (view->ndim != 2) {
        PyErr_Format(PyExc_ValueError, "%s must have 2 dimensions, got %d", name, view->ndim);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* statistics(features, mean_out, covariance_out) */
static PyObject *native_metrics_statistics(PyObject *module, PyObject *args) {
    PyObject *features, *mean, *covariance;
    if (!PyArg_ParseTuple(args, "OOO", &features, &mean, &covariance)) return NULL;
    Py_buffer vf = {0}, vm = {0}, vc = {0};
    if (get_features(features, &vf, "features")) return NULL;
    Py_ssize_t d = vf.shape[1];
    if (get_typed(mean, &vm, 1, "mean", "d", 8, "float64") || vm.len != d * 8
        || get_typed(covariance, &vc, 1, "covariance", "d", 8, "float64") || vc.len != d * d * 8) {
        if (!PyErr_Occurred()) PyErr_Format(PyExc_ValueError, "mean and covariance must hold %zd and %zd doubles", d, d * d);
        release(&vf); release(&vm); release(&vc);
        return NULL;
    }
    sg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = sg_metrics_statistics(vf.buf, vf.shape[0], d, vm.buf, vc.buf);
    Py_END_ALLOW_THREADS
    release(&vf); release(&vm); release(&vc);
    if (st != SG_OK) return raise_status(st);
    Py_RETURN_NONE;
}

/* frechet(mean1, covariance1, mean2, covariance2, epsilon) -> float; means [D], covariances [D, D] (the core checks) */
static PyObject *native_metrics_frechet(PyObject *module, PyObject *args) {
    PyObject *objects[4];
    double epsilon, out = 0;
    if (!PyArg_ParseTuple(args, "OOOOd", &objects[0], &objects[1], &objects[2], &objects[3], &epsilon)) return NULL;
    const char *names[4] = {"mean1", "covariance1", "mean2", "covariance2"};
    Py_buffer views[4] = {{0}};
    for (int i = 0; i < 4; i++) {
        if (get_typed(objects[i], &views[i], 0, names[i], "d", 8, "float64")) {
            for (int j = 0; j < i; j++) release(&views[j]);
            return NULL;
        }
    }
    sg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = sg_metrics_frechet(views[0].buf, views[0].len / 8, views[1].buf, views[1].len / 8, views[2].buf,
                            views[2].len / 8, views[3].buf, views[3].len / 8, epsilon, &out);
    Py_END_ALLOW_THREADS
    for (int i = 0; i < 4; i++) release(&views[i]);
    if (st != SG_OK) return raise_status(st);
    return PyFloat_FromDouble(out);
}

/* Two feature buffers [N, D] (the core checks that their widths agree), for the functions below. */
static int get_pair(PyObject *real, PyObject *fake, Py_buffer *vr, Py_buffer *vf) {
    if (get_features(real, vr, "real_features")) return -1;
    if (get_features(fake, vf, "fake_features")) { release(vr); return -1; }
    return 0;
}

/* fid(real, fake) -> float */
static PyObject *native_metrics_fid(PyObject *module, PyObject *args) {
    PyObject *real, *fake;
    if (!PyArg_ParseTuple(args, "OO", &real, &fake)) return NULL;
    Py_buffer vr = {0}, vf = {0};
    if (get_pair(real, fake, &vr, &vf)) return NULL;
    double out = 0;
    sg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = sg_metrics_fid(vr.buf, vr.shape[0], vr.shape[1], vf.buf, vf.shape[0], vf.shape[1], &out);
    Py_END_ALLOW_THREADS
    release(&vr); release(&vf);
    if (st != SG_OK) return raise_status(st);
    return PyFloat_FromDouble(out);
}

/* kernel_distances(real, fake, real_index, fake_index, out, subsets): indices int64 [max(subsets, 0), m], out float64
 * [max(subsets, 0)]; `subsets` as the caller asked (the core checks it) */
static PyObject *native_metrics_kernel_distances(PyObject *module, PyObject *args) {
    PyObject *real, *fake, *real_index, *fake_index, *out;
    Py_ssize_t subsets;
    if (!PyArg_ParseTuple(args, "OOOOOn", &real, &fake, &real_index, &fake_index, &out, &subsets)) return NULL;
    Py_buffer vr = {0}, vf = {0}, vri = {0}, vfi = {0}, vo = {0};
    if (get_pair(real, fake, &vr, &vf)) return NULL;
    sg_status st = SG_OK;
    if (get_typed(real_index, &vri, 0, "real_index", "q", 8, "int64")
        || get_typed(fake_index, &vfi, 0, "fake_index", "q", 8, "int64")
        || get_typed(out, &vo, 1, "out", "d", 8, "float64")) {
        /* the exception is set */
    } else if (vri.ndim != 2 || vfi.ndim != 2 || vri.shape[0] != vfi.shape[0] || vri.shape[1] != vfi.shape[1]
               || vo.len != vri.shape[0] * 8 || vri.shape[0] != (subsets > 0 ? subsets : 0)) {
        PyErr_SetString(PyExc_ValueError, "real_index and fake_index must both be [subsets, m], out [subsets]");
    } else {
        Py_BEGIN_ALLOW_THREADS
        st = sg_metrics_kernel_distances(vr.buf, vr.shape[0], vr.shape[1], vf.buf, vf.shape[0], vf.shape[1], vri.buf, vfi.buf,
                                         subsets, vri.shape[1], vo.buf);
        Py_END_ALLOW_THREADS
    }
    release(&vr); release(&vf); release(&vri); release(&vfi); release(&vo);
    if (PyErr_Occurred()) return NULL;
    if (st != SG_OK) return raise_status(st);
    Py_RETURN_NONE;
}

/* precision_recall(real, fake, k) -> (precision, recall) */
static PyObject *native_metrics_precision_recall(PyObject *module, PyObject *args) {
    PyObject *real, *fake;
    int k;
    if (!PyArg_ParseTuple(args, "OOi", &real, &fake, &k)) return NULL;
    Py_buffer vr = {0}, vf = {0};
    if (get_pair(real, fake, &vr, &vf)) return NULL;
    double out[2] = {0, 0};
    sg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = sg_metrics_precision_recall(vr.buf, vr.shape[0], vr.shape[1], vf.buf, vf.shape[0], vf.shape[1], k, out);
    Py_END_ALLOW_THREADS
    release(&vr); release(&vf);
    if (st != SG_OK) return raise_status(st);
    return Py_BuildValue("(dd)", out[0], out[1]);
}

static PyMethodDef module_methods[] = {
    {"metrics_statistics", native_metrics_statistics, METH_VARARGS, "Mean and covariance of float64 features into buffers."},
    {"metrics_frechet", native_metrics_frechet, METH_VARARGS, "The Fréchet distance of two Gaussians' statistics."},
    {"metrics_fid", native_metrics_fid, METH_VARARGS, "FID between two float64 feature sets [N, D]."},
    {"metrics_kernel_distances", native_metrics_kernel_distances, METH_VARARGS, "KID's unbiased MMD² per index subset."},
    {"metrics_precision_recall", native_metrics_precision_recall, METH_VARARGS, "Improved precision and recall (k-NN)."},
    {"create", native_create, METH_VARARGS, "Creates an engine from key=value configuration lines."},
    {"create_features", native_create_features, METH_VARARGS, "Creates a feature network from key=value lines."},
    {"abi_version", native_abi_version, METH_NOARGS, "The loaded library's ABI version."},
    {"catalogue", native_catalogue, METH_VARARGS, "name\\tdescription lines: losses (0), penalties (1), architectures (2)."},
    {"stat_names", native_stat_names, METH_NOARGS, "name\\tmeaning lines of a step's statistics, in order."},
    {"options", native_options, METH_NOARGS, "name\\tkind\\tdefault\\tvalues\\thelp lines: the option table."},
    {"features_options", native_features_options, METH_NOARGS, "The feature network's option table, as options()."},
    {"kernels", native_kernels, METH_NOARGS, "library\\tkernels lines: OpenBLAS's core and oneDNN's instruction set."},
    {"memory_available", native_memory_available, METH_NOARGS, "Bytes the process can still get (the core's figure)."},
    {"profile_read", native_profile_read, METH_NOARGS, "name\\tseconds lines: time per kernel kind, other_core, core."},
    {"profile_set_enabled", native_profile_set_enabled, METH_VARARGS, "Switches kernel timing on or off."},
    {"profile_reset", native_profile_reset, METH_NOARGS, "Zeroes the kernel times."},
    {"branch_log_set_enabled", native_branch_log_set_enabled, METH_VARARGS,
     "Starts (a fresh one) or stops the calling thread's log of kinked kernel calls."},
    {"branch_log_read", native_branch_log_read, METH_NOARGS,
     "elements\\tbranch_sum\\tmargin lines: the kinked kernel calls since the log started."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT, "swiftgan._native", "Binding of libswiftgan.so.", -1, module_methods,
};

PyMODINIT_FUNC PyInit__native(void) {
    if (sg_abi_version() != SG_ABI_VERSION) {
        PyErr_Format(PyExc_ImportError, "libswiftgan.so has ABI version %d, this module needs %d",
                     sg_abi_version(), SG_ABI_VERSION);
        return NULL;
    }
    if (PyType_Ready(&HandleType) < 0) return NULL;
    PyObject *m = PyModule_Create(&native_module);
    if (!m) return NULL;
    SwiftGANError = PyErr_NewExceptionWithDoc("swiftgan.SwiftGANError", "An engine failure inside SwiftGAN's core.",
                                              PyExc_RuntimeError, NULL);
    if (!SwiftGANError || PyModule_AddObjectRef(m, "SwiftGANError", SwiftGANError) < 0) { Py_DECREF(m); return NULL; }
    TrainingDivergedError = PyErr_NewExceptionWithDoc(
        "swiftgan.TrainingDivergedError",
        "A training step's loss, gradient or update was NaN or infinite; it was not applied (the message names the "
        "iteration and the term).", SwiftGANError, NULL);
    if (!TrainingDivergedError || PyModule_AddObjectRef(m, "TrainingDivergedError", TrainingDivergedError) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&HandleType);
    if (PyModule_AddObject(m, "Handle", (PyObject *)&HandleType) < 0) { Py_DECREF(m); return NULL; }
    PyModule_AddIntConstant(m, "ABI_VERSION", SG_ABI_VERSION);
    return m;
}
