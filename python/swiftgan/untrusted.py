"""Reading files a user points SwiftGAN at, none of which is trusted.

Every reader of the package goes through these helpers:
  - only regular files are opened (a FIFO, a device or a socket is refused, never read: no read blocks);
  - a read never allocates more than the file holds (`read_regular`), and a decompressed stream never more than
    its header declares and the compressed size can hold (`read_gzip`: deflate expands at most 1032:1);
  - pickles (the CIFAR python batches) are interpreted by `read_pickled_data`, a reader of the opcodes that
    plain data uses, which builds dicts, lists, tuples, strings, numbers and NumPy arrays of numbers, and
    refuses everything else: no class is imported, no function is called, whatever the file holds;
  - `check_memory` refuses, before the work, what would not fit in the memory this process can still get.
"""
from __future__ import annotations

import gzip
import os
import stat
import struct
import zlib
from typing import Dict, List, Optional, Tuple

import numpy as np

from . import _native

DEFLATE_MAX_RATIO = 1032  # the largest expansion deflate can encode (a 258-byte match in 2 bits, RFC 1951)
READ_PIECE = 1 << 24  # streams are read in pieces of 16 MiB


# ---- regular files, bounded reads ------------------------------------------------------------

def open_regular(path: str):
    """`path` opened for binary reading, if it is a regular file (symbolic links are followed).

    Raises:
        FileNotFoundError: when nothing is at `path`.
        ValueError: when `path` is a folder, a FIFO, a device or a socket (opened without blocking, then refused).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else
                    "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
                    else "not a regular file")
            raise ValueError(f"{path}: {kind}, not a regular file: only regular files are read")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str, limit: Optional[int] = None) -> bytes:
    """The bytes of the regular file `path` (at most `limit` of them, when given)."""
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        return f.read(size if limit is None else min(size, limit))


def is_gzip(path: str) -> bool:
    return read_regular(path, 2) == b"\x1f\x8b"


def read_gzip(path: str, header_size: int, body_size) -> Tuple[bytes, bytes]:
    """The first `header_size` decompressed bytes of the gzip file `path`, then `body_size(header)` more, read in
    pieces. The declared body is refused before it is read when the compressed file could not hold it.

    Raises:
        ValueError: when the stream is not gzip, is damaged, is shorter than declared, or declares more than
            `DEFLATE_MAX_RATIO` times the compressed size.
    """
    with open_regular(path) as raw:
        compressed = os.fstat(raw.fileno()).st_size
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                header = stream.read(header_size)
                if len(header) < header_size:
                    raise ValueError(f"{path}: truncated: {len(header)} bytes, expected a {header_size}-byte header")
                wanted = body_size(header)
                if wanted > DEFLATE_MAX_RATIO * compressed:
                    raise ValueError(f"{path}: the header declares {wanted:,} bytes, more than a gzip file of "
                                     f"{compressed:,} bytes can hold ({DEFLATE_MAX_RATIO}:1 at most)")
                pieces, got = [], 0
                while got < wanted:
                    piece = stream.read(min(READ_PIECE, wanted - got))
                    if not piece:
                        raise ValueError(f"{path}: truncated: the header declares {wanted:,} bytes, the stream "
                                         f"holds {got:,}")
                    pieces.append(piece)
                    got += len(piece)
                return header, b"".join(pieces)
        except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
            raise ValueError(f"{path}: damaged gzip stream ({error.__class__.__name__}: {error})") from None


# ---- memory ------------------------------------------------------------------------------------

def available_memory() -> int:
    """The bytes this process can still allocate, as the core measures them before its own allocations (the least of
    the system's available memory, the address-space and data limits less what is mapped, and the cgroup's
    memory.max less its memory.current)."""
    return _native.memory_available()


def check_memory(need: int, what: str, hint: str = "") -> None:
    """Refuses, before the work, `what` when it needs more bytes than `available_memory()`.

    Raises:
        MemoryError: naming `what`, the bytes needed and those available, and `hint` (how to need less).
    """
    available = available_memory()
    if need > available:
        raise MemoryError(f"{what} needs {format_bytes(need)} of memory, {format_bytes(available)} are available"
                          + (f": {hint}" if hint else ""))


def format_bytes(count: int) -> str:
    for unit, size in (("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} bytes"


# ---- pickled data --------------------------------------------------------------------------------

class _Global:
    """A name a pickle asks for that the reader knows: it stands for a builder, never for the named object."""

    def __init__(self, name: str):
        self.name = name


class _Dtype:
    def __init__(self, dtype: np.dtype):
        self.dtype = dtype


class _ArrayPending:
    """`numpy.core.multiarray._reconstruct(ndarray, ...)`: an array whose shape, dtype and bytes come with BUILD."""


_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): "reconstruct", ("numpy._core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy", "ndarray"): "ndarray", ("numpy", "dtype"): "dtype",
    ("numpy.core.numeric", "_frombuffer"): "frombuffer", ("numpy._core.numeric", "_frombuffer"): "frombuffer",
    ("_codecs", "encode"): "encode",  # Python 3's protocol-2 spelling of bytes: encode(text, "latin1")
}
_NUMERIC_KINDS = "biuf"  # booleans, integers, unsigned integers, floats: no objects, strings, voids or records


def read_pickled_data(data: bytes, path: str) -> object:
    """The plain data pickled in `data` (dicts, lists, tuples, bytes, strings, numbers, None, booleans and NumPy
    arrays of numbers), read without Python's unpickler: nothing is imported and nothing is called.

    Raises:
        ValueError: naming `path` and the offset, for any opcode, name or value outside that data, and for a
            truncated or inconsistent pickle.
    """
    return _PickleReader(data, path).run()


class _PickleReader:
    globals = _GLOBALS

    def __init__(self, data: bytes, path: str, start: int = 0):
        self.data, self.path, self.at = data, path, start
        self.stack: List[object] = []
        self.marks: List[int] = []
        self.memo: Dict[int, object] = {}

    def refuse(self, what: str) -> ValueError:
        return ValueError(f"{self.path}: not a pickle of plain data ({what} at byte {self.at})")

    def take(self, count: int) -> bytes:
        if count < 0 or self.at + count > len(self.data):
            raise self.refuse(f"truncated: {count:,} bytes declared, {len(self.data) - self.at:,} left")
        piece = self.data[self.at:self.at + count]
        self.at += count
        return piece

    def number(self, fmt: str) -> int:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def line(self) -> str:
        end = self.data.find(b"\n", self.at)
        if end < 0:
            raise self.refuse("unterminated name")
        text = self.data[self.at:end].decode("ascii", "replace")
        self.at = end + 1
        return text

    def pop_mark(self) -> List[object]:
        if not self.marks:
            raise self.refuse("no MARK")
        start = self.marks.pop()
        items, self.stack[start:] = self.stack[start:], []
        return items

    def pop(self) -> object:
        if len(self.stack) <= (self.marks[-1] if self.marks else 0):
            raise self.refuse("stack underflow")
        return self.stack.pop()

    def run(self) -> object:
        push, pop = self.stack.append, self.pop
        while True:
            if self.at >= len(self.data):
                raise self.refuse("no STOP")
            code = self.data[self.at]
            self.at += 1
            if code == 0x80:  # PROTO
                if self.number("<B") > 5:
                    raise self.refuse("unknown protocol")
            elif code == 0x95:  # FRAME: a hint of the next frame's length
                self.number("<Q")
            elif code == 0x2E:  # STOP
                return pop()
            elif code == 0x28:  # MARK
                self.marks.append(len(self.stack))
            elif code == 0x7D:  # EMPTY_DICT
                push({})
            elif code == 0x5D:  # EMPTY_LIST
                push([])
            elif code == 0x29:  # EMPTY_TUPLE
                push(())
            elif code == 0x4E:  # NONE
                push(None)
            elif code in (0x88, 0x89):  # NEWTRUE, NEWFALSE
                push(code == 0x88)
            elif code == 0x4B:  # BININT1
                push(self.number("<B"))
            elif code == 0x4D:  # BININT2
                push(self.number("<H"))
            elif code == 0x4A:  # BININT
                push(self.number("<i"))
            elif code == 0x8A:  # LONG1
                push(int.from_bytes(self.take(self.number("<B")), "little", signed=True))
            elif code == 0x47:  # BINFLOAT
                push(self.number(">d"))
            elif code in (0x55, 0x54, 0x43, 0x42, 0x8E):  # SHORT_BINSTRING, BINSTRING, SHORT_BINBYTES, BINBYTES, BINBYTES8
                size_format = {0x55: "<B", 0x54: "<i", 0x43: "<B", 0x42: "<I", 0x8E: "<Q"}[code]
                push(self.take(self.number(size_format)))
            elif code == 0x96:  # BYTEARRAY8
                push(bytearray(self.take(self.number("<Q"))))
            elif code in (0x8C, 0x58, 0x8D):  # SHORT_BINUNICODE, BINUNICODE, BINUNICODE8
                size_format = {0x8C: "<B", 0x58: "<I", 0x8D: "<Q"}[code]
                try:
                    push(self.take(self.number(size_format)).decode("utf-8"))
                except UnicodeDecodeError:
                    raise self.refuse("a string that is not UTF-8") from None
            elif code in (0x71, 0x72):  # BINPUT, LONG_BINPUT
                self.memo[self.number("<B" if code == 0x71 else "<I")] = self.top()
            elif code == 0x94:  # MEMOIZE
                self.memo[len(self.memo)] = self.top()
            elif code in (0x68, 0x6A):  # BINGET, LONG_BINGET
                key = self.number("<B" if code == 0x68 else "<I")
                if key not in self.memo:
                    raise self.refuse(f"memo {key} read before it is written")
                push(self.memo[key])
            elif code == 0x74:  # TUPLE
                push(tuple(self.pop_mark()))
            elif code in (0x85, 0x86, 0x87):  # TUPLE1, TUPLE2, TUPLE3
                items = [pop() for _ in range(code - 0x84)][::-1]
                push(tuple(items))
            elif code == 0x61:  # APPEND
                item = pop()
                self.list_top().append(item)
            elif code == 0x65:  # APPENDS
                items = self.pop_mark()
                self.list_top().extend(items)
            elif code == 0x73:  # SETITEM
                value, key = pop(), pop()
                self.set_items([key, value])
            elif code == 0x75:  # SETITEMS
                self.set_items(self.pop_mark())
            elif code == 0x63:  # GLOBAL
                push(self.known_global(self.line(), self.line()))
            elif code == 0x93:  # STACK_GLOBAL
                name, module = pop(), pop()
                if not isinstance(module, str) or not isinstance(name, str):
                    raise self.refuse("STACK_GLOBAL of non-strings")
                push(self.known_global(module, name))
            elif code == 0x52:  # REDUCE
                args, builder = pop(), pop()
                push(self.reduce(builder, args))
            elif code == 0x62:  # BUILD
                state = pop()
                self.build(self.top(), state)
            elif code == 0x51:  # BINPERSID: a reference to data outside the pickle
                push(self.persistent(pop()))
            else:
                raise self.refuse(f"opcode 0x{code:02x}, which plain data does not use")

    def top(self) -> object:
        if not self.stack:
            raise self.refuse("stack underflow")
        return self.stack[-1]

    def list_top(self) -> list:
        target = self.top()
        if not isinstance(target, list):
            raise self.refuse(f"append to a {type(target).__name__}")
        return target

    def set_items(self, items: List[object]) -> None:
        target = self.top()
        if not isinstance(target, dict) or len(items) % 2:
            raise self.refuse("SETITEMS on something other than a dict")
        for key, value in zip(items[::2], items[1::2]):
            if not isinstance(key, (str, bytes, int)):
                raise self.refuse(f"a dict key of type {type(key).__name__}")
            target[key] = value

    def persistent(self, pid: object) -> object:
        raise self.refuse("a persistent reference, which plain data does not use")

    def known_global(self, module: str, name: str) -> _Global:
        kind = self.globals.get((module, name))
        if kind is None:
            raise self.refuse(f"the name {module}.{name}, which plain data does not use")
        return _Global(kind)

    def reduce(self, builder: object, args: object) -> object:
        if not isinstance(builder, _Global) or not isinstance(args, tuple):
            raise self.refuse("a call of something other than a known name")
        if builder.name == "reconstruct":
            if len(args) != 3 or not (isinstance(args[0], _Global) and args[0].name == "ndarray"):
                raise self.refuse("_reconstruct of something other than an ndarray")
            return _ArrayPending()
        if builder.name == "dtype":
            if not args or not isinstance(args[0], (str, bytes)):
                raise self.refuse("dtype of something other than a type code")
            return _Dtype(self.dtype(args[0]))
        if builder.name == "frombuffer":  # protocol 5: (buffer, dtype, shape, order)
            if len(args) != 4 or not isinstance(args[1], _Dtype):
                raise self.refuse("_frombuffer with unexpected arguments")
            return self.array(args[2], args[1], args[3] == "F", args[0])
        if builder.name == "encode":
            if len(args) != 2 or not isinstance(args[0], str) or args[1] != "latin1":
                raise self.refuse("encode with unexpected arguments")
            try:
                return args[0].encode("latin1")
            except UnicodeEncodeError:
                raise self.refuse("latin1 bytes out of range") from None
        raise self.refuse(f"a call of {builder.name}")

    def dtype(self, code) -> np.dtype:
        text = code.decode("ascii", "replace") if isinstance(code, bytes) else code
        if len(text) > 4 or not text[:1].isalpha():
            raise self.refuse(f"the dtype {text!r}")
        try:
            dtype = np.dtype(text)
        except TypeError:
            raise self.refuse(f"the dtype {text!r}") from None
        if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
            raise self.refuse(f"the dtype {text!r}, not a number")
        return dtype

    def build(self, target: object, state: object) -> None:
        if isinstance(target, _Dtype):  # (version, byte order, ...)
            if not isinstance(state, tuple) or len(state) < 2 or state[1] not in ("<", ">", "|", "=", b"<", b">", b"|", b"="):
                raise self.refuse("a dtype state")
            order = state[1].decode() if isinstance(state[1], bytes) else state[1]
            target.dtype = target.dtype.newbyteorder(order) if order in "<>" else target.dtype
        elif isinstance(target, _ArrayPending):  # ([version,] shape, dtype, is_fortran, raw bytes)
            if not isinstance(state, tuple) or len(state) not in (4, 5):
                raise self.refuse("an ndarray state")
            shape, dtype, fortran, raw = state[-4:]
            if not isinstance(dtype, _Dtype):
                raise self.refuse("an ndarray state without a dtype")
            self.stack[-1] = self.array(shape, dtype, bool(fortran), raw)
        else:
            raise self.refuse(f"BUILD of a {type(target).__name__}")

    def array(self, shape: object, dtype: _Dtype, fortran: bool, raw: object) -> np.ndarray:
        if not isinstance(shape, tuple) or not all(isinstance(s, int) and s >= 0 for s in shape) or len(shape) > 8:
            raise self.refuse(f"an array shape {shape!r}")
        if isinstance(raw, str):  # protocol 0/1 and Python 2 text: latin1 bytes
            raw = raw.encode("latin1", "replace")
        if not isinstance(raw, (bytes, bytearray)):
            raise self.refuse("array data that is not bytes")
        count = 1
        for size in shape:
            count *= size
        if count * dtype.dtype.itemsize != len(raw):
            raise self.refuse(f"an array of shape {list(shape)} and {dtype.dtype} holding {len(raw):,} bytes")
        flat = np.frombuffer(bytes(raw), dtype=dtype.dtype)
        return flat.reshape(shape, order="F" if fortran else "C")


# ---- PyTorch state dicts --------------------------------------------------------------------------------

_TORCH_STORAGES = {"FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "LongStorage": "<i8",
                   "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1",
                   "BoolStorage": "?", "BFloat16Storage": "<u2"}
_TORCH_GLOBALS = {**_GLOBALS, ("collections", "OrderedDict"): "ordereddict",
                  ("torch._utils", "_rebuild_tensor_v2"): "tensor", ("torch._utils", "_rebuild_tensor"): "tensor",
                  **{("torch", name): "storage:" + name for name in _TORCH_STORAGES}}
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _Storage:
    def __init__(self, kind: str, key: str, count: int):
        self.kind, self.key, self.count = kind, key, count
        self.values: Optional[np.ndarray] = None


class _PendingTensor:
    def __init__(self, storage: _Storage, offset: int, shape: Tuple[int, ...], strides: Tuple[int, ...]):
        self.storage, self.offset, self.shape, self.strides = storage, offset, shape, strides


class _TorchPickleReader(_PickleReader):
    """The pickle of a PyTorch state dict: OrderedDicts of tensors, each a view of a storage held outside the
    pickle (a persistent reference); nothing is imported and nothing is called."""
    globals = _TORCH_GLOBALS

    def __init__(self, data: bytes, path: str, start: int = 0):
        super().__init__(data, path, start)
        self.storages: Dict[str, _Storage] = {}

    def persistent(self, pid: object) -> object:
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage" and isinstance(pid[1], _Global)
                and pid[1].name.startswith("storage:") and isinstance(pid[2], str) and isinstance(pid[4], int)
                and pid[4] >= 0):
            raise self.refuse("a persistent reference other than a tensor storage")
        key = pid[2]
        if key not in self.storages:
            self.storages[key] = _Storage(pid[1].name.split(":")[1], key, pid[4])
        return self.storages[key]

    def reduce(self, builder: object, args: object) -> object:
        if isinstance(builder, _Global) and builder.name == "ordereddict":
            if args != ():
                raise self.refuse("an OrderedDict built from arguments")
            return {}
        if isinstance(builder, _Global) and builder.name == "tensor":
            if not (isinstance(args, tuple) and len(args) >= 4 and isinstance(args[0], _Storage)):
                raise self.refuse("a tensor rebuilt from unexpected arguments")
            storage, offset, shape, strides = args[:4]
            if not (isinstance(offset, int) and offset >= 0 and isinstance(shape, tuple) and isinstance(strides, tuple)
                    and len(shape) == len(strides) <= 8
                    and all(isinstance(v, int) and v >= 0 for v in shape + strides)):
                raise self.refuse(f"a tensor of shape {shape!r} and strides {strides!r}")
            last = offset + sum((size - 1) * step for size, step in zip(shape, strides) if size > 0)
            if all(shape) and last >= storage.count:
                raise self.refuse(f"a tensor reaching element {last} of a storage of {storage.count}")
            return _PendingTensor(storage, offset, shape, strides)
        return super().reduce(builder, args)

    def build(self, target: object, state: object) -> None:
        if isinstance(target, dict) and isinstance(state, dict):  # an OrderedDict's attributes (_metadata)
            return
        super().build(target, state)


def _tensor_values(pending: _PendingTensor) -> np.ndarray:
    storage = pending.storage
    values = storage.values
    if storage.kind == "BFloat16Storage":  # the high half of a float32
        values = (values.astype(np.uint32) << 16).view(np.float32)
    if not all(pending.shape):
        return np.zeros(pending.shape, dtype=values.dtype)
    view = np.lib.stride_tricks.as_strided(values[pending.offset:], shape=pending.shape,
                                           strides=[s * values.itemsize for s in pending.strides], writeable=False)
    return np.array(view)


def read_torch_state_dict(path: str) -> Dict[str, np.ndarray]:
    """The tensors of a PyTorch state dict saved by `torch.save` (the zip format of PyTorch ≥ 1.6, or the legacy
    one before it), as NumPy arrays by name, read as data: no code of the file runs and nothing is imported.

    Raises:
        ValueError: for a file that is not a state dict of tensors (a pickle holding anything else, a damaged
            archive, storages shorter than their tensors).
        MemoryError: for a file that would not fit in memory.
    """
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        check_memory(2 * size, f"{path}: a state dict of {format_bytes(size)}")
        data = f.read(size)
    if data[:4] == b"PK\x03\x04":
        state, storages = _read_torch_zip(data, path)
    elif data[:2] in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"):
        state, storages = _read_torch_legacy(data, path)
    else:
        raise ValueError(f"{path}: not a PyTorch file (neither a zip archive nor a pickle)")
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, (_PendingTensor, int))
                                              for k, v in state.items()):
        raise ValueError(f"{path}: not a state dict (a mapping of names to tensors)")
    del storages
    return {name: _tensor_values(value) for name, value in state.items() if isinstance(value, _PendingTensor)}


def _storage_values(storage: _Storage, raw: bytes, path: str) -> None:
    dtype = np.dtype(_TORCH_STORAGES[storage.kind])
    if len(raw) < storage.count * dtype.itemsize:
        raise ValueError(f"{path}: storage {storage.key} holds {len(raw):,} bytes, its tensors need "
                         f"{storage.count * dtype.itemsize:,}")
    storage.values = np.frombuffer(raw, dtype=dtype, count=storage.count)


def _read_torch_zip(data: bytes, path: str):
    import io
    import zipfile

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            raise ValueError(f"{path}: a zip archive without one data.pkl (not a PyTorch file)")
        prefix = pickles[0][:-len("data.pkl")]
        reader = _TorchPickleReader(archive.read(pickles[0]), path)
        state = reader.run()
        for key, storage in reader.storages.items():
            member = f"{prefix}data/{key}"
            if member not in names:
                raise ValueError(f"{path}: the storage {key} is missing from the archive")
            _storage_values(storage, archive.read(member), path)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as error:
        raise ValueError(f"{path}: a damaged archive ({error.__class__.__name__}: {error})") from None
    return state, reader.storages


def _read_torch_legacy(data: bytes, path: str):
    at = 0
    header = []
    for _ in range(3):  # the magic number, the protocol version, the system's description
        reader = _PickleReader(data, path, at)
        header.append(reader.run())
        at = reader.at
    if header[0] != TORCH_LEGACY_MAGIC:
        raise ValueError(f"{path}: a pickle that is not a PyTorch file (no PyTorch magic number)")
    reader = _TorchPickleReader(data, path, at)
    state = reader.run()
    keys_reader = _PickleReader(data, path, reader.at)
    keys = keys_reader.run()
    at = keys_reader.at
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ValueError(f"{path}: the list of storages is not a list of names")
    for key in keys:
        if key not in reader.storages:
            raise ValueError(f"{path}: a storage {key} no tensor uses")
        storage = reader.storages[key]
        if at + 8 > len(data):
            raise ValueError(f"{path}: truncated before storage {key}")
        count = int.from_bytes(data[at:at + 8], "little")
        itemsize = np.dtype(_TORCH_STORAGES[storage.kind]).itemsize
        if count != storage.count or at + 8 + count * itemsize > len(data):
            raise ValueError(f"{path}: storage {key} declares {count} elements, its tensors {storage.count}, the file "
                             f"holds {max(len(data) - at - 8, 0) // itemsize}")
        _storage_values(storage, data[at + 8:at + 8 + count * itemsize], path)
        at += 8 + count * itemsize
    missing = set(reader.storages) - set(keys)
    if missing:
        raise ValueError(f"{path}: storages {', '.join(sorted(missing))} are missing from the file")
    return state, reader.storages
