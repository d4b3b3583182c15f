import CSwiftGAN
import Glibc
import SwiftGAN

// What every handle kind shares (swiftgan.h, "Every handle kind"): the token registry, the lock and thread count,
// the configuration, and one family of tensor-access calls. A kind (GANHandle, FeatureHandle) says only what is its
// own: its name, its configuration text and its tensor sets.

// MARK: - The handle protocol

/// One tensor a handle lists: its C name (owned by the handle), its shape (known without creating the tensor) and
/// how to reach it (optimizer state is created only when read; a gradient may not be retained yet).
struct HandleTensor {
    let name: UnsafeMutablePointer<CChar>
    let shape: [Int]
    let tensor: () throws(SwiftGANError) -> Tensor
}

/// What an `sg_handle*` stands for: an object with its lock and its thread count, which every call on it takes.
/// Each kind overrides the members below `kind`.
class Handle {
    private var mutex = pthread_mutex_t()
    /// Threads every call on this handle uses (sg_handle_set_threads).
    var threads = Threads.initial
    /// The C strings this handle hands out (tensor names), freed with it.
    private var strings: [UnsafeMutablePointer<CChar>] = []

    init() { pthread_mutex_init(&mutex, nil) }

    deinit {
        pthread_mutex_destroy(&mutex)
        strings.forEach { free($0) }
    }

    func locked<R>(_ body: () throws(SwiftGANError) -> R) throws(SwiftGANError) -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        Threads.use(threads)
        return try body()
    }

    /// A C copy of `name` that lives as long as the handle.
    func cString(_ name: String) -> UnsafeMutablePointer<CChar> {
        let s = strdup(name)!
        strings.append(s)
        return s
    }

    /// The kind's name (`sg_handle_kind`: "gan", "features"), its name in messages, and what creates it.
    class var kind: String { "handle" }
    class var description: String { "SwiftGAN" }
    class var creator: String { "sg_gan_create or sg_features_create" }

    /// The resolved configuration as "key=value" lines.
    var configText: String { fatalError("a handle kind writes its configuration") }

    /// The tensors of set `which` (SG_TENSORS_*).
    func tensors(_ which: Int32) throws(SwiftGANError) -> [HandleTensor] { fatalError("a handle kind lists its tensors") }
}

let tensorsModel = Int32(SG_TENSORS_MODEL), tensorsFull = Int32(SG_TENSORS_FULL), tensorsGradients = Int32(SG_TENSORS_GRADIENTS)

func unknownSet(_ which: Int32, kind: String, sets: String) -> SwiftGANError {
    SwiftGANError("which must be \(sets) for a \(kind) handle, got \(which)")
}

// MARK: - Errors

private let errorKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { free($0) }
    return key
}()

private let emptyMessage: UnsafeMutablePointer<CChar> = strdup("")!

func setLastError(_ message: String) {
    if let old = pthread_getspecific(errorKey) { free(old) }
    pthread_setspecific(errorKey, strdup(message))
}

@_cdecl("sg_last_error")
public func sg_last_error() -> UnsafePointer<CChar> {
    UnsafePointer(pthread_getspecific(errorKey)?.assumingMemoryBound(to: CChar.self) ?? emptyMessage)
}

func guarded(_ body: () throws(SwiftGANError) -> Void) -> Int32 {
    do {
        try body()
        return SG_OK
    } catch {
        setLastError(error.message)
        switch error.kind {
        case .invalidArgument: return SG_INVALID_ARGUMENT
        case .engine: return SG_ENGINE_ERROR
        case .diverged: return SG_DIVERGED
        case .outOfMemory: return SG_OUT_OF_MEMORY
        }
    }
}

func require(_ condition: Bool, _ message: @autoclosure () -> String) throws(SwiftGANError) {
    if !condition { throw SwiftGANError(message()) }
}

// MARK: - The registry

/// The live handles. An `sg_handle*` is a token, never an address: each create issues a new one (never reused),
/// and every call looks it up here, so a freed handle, a pointer of another kind or garbage is refused with
/// SG_INVALID_ARGUMENT instead of being dereferenced. A call holds its handle strongly, so a concurrent
/// `sg_handle_free` only ends the handle when the calls under way are done.
private final class HandleRegistry: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var handles: [UInt: Handle] = [:]
    private var nextToken: UInt = 0x5347_0000_0001  // "SG": far from small integers and typical heap addresses

    init() { pthread_mutex_init(&mutex, nil) }

    private func locked<R>(_ body: () -> R) -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }

    func add(_ handle: Handle) -> OpaquePointer {
        let token = locked { () -> UInt in
            let token = nextToken
            nextToken += 2
            handles[token] = handle
            return token
        }
        return OpaquePointer(bitPattern: token)!
    }

    func find(_ handle: OpaquePointer) -> Handle? { locked { handles[UInt(bitPattern: handle)] } }

    func remove(_ handle: OpaquePointer) -> Bool { locked { handles.removeValue(forKey: UInt(bitPattern: handle)) != nil } }
}

private let liveHandles = HandleRegistry()

/// Registers `handle` as live and gives it to the caller through `out`.
func create(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ make: () throws(SwiftGANError) -> Handle) -> Int32 {
    guarded { () throws(SwiftGANError) in
        guard let out else { throw SwiftGANError("out is NULL") }
        out.pointee = nil
        out.pointee = liveHandles.add(try make())
    }
}

/// Runs `body` on the live handle of kind `H` behind `pointer` under its lock, mapping errors to statuses; a
/// NULL, freed, foreign or other-kind pointer gives SG_INVALID_ARGUMENT.
func call<H: Handle>(_ pointer: OpaquePointer?, as: H.Type, _ body: (H) throws(SwiftGANError) -> Void) -> Int32 {
    guard let pointer else {
        setLastError("the \(H.description) handle is NULL (closed?)")
        return SG_INVALID_ARGUMENT
    }
    guard let handle = liveHandles.find(pointer) as? H else {
        setLastError("\(pointer) is not a live \(H.description) handle: freed already, or not made by \(H.creator)")
        return SG_INVALID_ARGUMENT
    }
    return guarded { () throws(SwiftGANError) in
        try handle.locked { () throws(SwiftGANError) in try Profile.timeCall { () throws(SwiftGANError) in try body(handle) } }
    }
}

/// Copies `text` NUL-terminated into a caller's buffer, reporting the size needed.
func writeText(_ text: String, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int64,
               _ needed: UnsafeMutablePointer<Int64>?) throws(SwiftGANError) {
    let bytes = Array(text.utf8CString)
    needed?.pointee = Int64(bytes.count)
    try require(buffer != nil && capacity >= Int64(bytes.count), "buffer too small: \(bytes.count) bytes needed")
    bytes.withUnsafeBufferPointer { buffer!.update(from: $0.baseAddress!, count: bytes.count) }
}

/// The caller's array `a` (named `name` in messages) as a tensor, or nil when its values are NULL.
func tensor(_ a: sg_array, _ name: String) throws(SwiftGANError) -> Tensor? {
    guard let values = a.values else {
        try require(a.count == 0, "\(name): values is NULL but count is \(a.count)")
        return nil
    }
    try require(a.ndim >= 0 && a.ndim <= SG_MAX_DIMS, "\(name): ndim must be in [0, \(SG_MAX_DIMS)], got \(a.ndim)")
    let shape = withUnsafeBytes(of: a.shape) { Array($0.bindMemory(to: Int64.self).prefix(Int(a.ndim))) }
    try require(shape.allSatisfy { $0 >= 0 && $0 <= 1 << 31 }, "\(name): dimensions must be in [0, 2^31], got \(shape)")
    let product = shape.reduce(Int64(1)) { $0.multipliedReportingOverflow(by: $1).overflow ? Int64.max : $0 * $1 }
    try require(product <= 1 << 32 && a.count == product,
                "\(name): count must be the product of shape \(shape) (\(product)), got \(a.count)")
    try MemoryBudget.require(MemoryBudget.bytes(ofTensor: Int(product)), for: "a copy of \(name) \(shape)")
    return Tensor(copying: values, shape: shape.map(Int.init))
}

/// A caller's output buffer of `count` floats.
func output(_ p: UnsafeMutablePointer<Float>?, _ count: Int64) throws(SwiftGANError) -> UnsafeMutableBufferPointer<Float> {
    try require(p != nil, "out is NULL")
    try require(count >= 0 && count <= 1 << 36, "out: count must be in [0, 2^36], got \(count)")
    return UnsafeMutableBufferPointer(start: p, count: Int(count))
}

// MARK: - Every handle kind

@_cdecl("sg_handle_free")
public func sg_handle_free(_ handle: OpaquePointer?) -> Int32 {
    guard let handle else { return SG_OK }
    guard liveHandles.remove(handle) else {
        setLastError("\(handle) is not a live handle: freed already, or not made by a create")
        return SG_INVALID_ARGUMENT
    }
    return SG_OK
}

@_cdecl("sg_handle_kind")
public func sg_handle_kind(_ handle: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int64,
                           _ needed: UnsafeMutablePointer<Int64>?) -> Int32 {
    call(handle, as: Handle.self) { (h) throws(SwiftGANError) in try writeText(type(of: h).kind, buffer, capacity, needed) }
}

@_cdecl("sg_handle_config")
public func sg_handle_config(_ handle: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int64,
                             _ needed: UnsafeMutablePointer<Int64>?) -> Int32 {
    call(handle, as: Handle.self) { (h) throws(SwiftGANError) in try writeText(h.configText, buffer, capacity, needed) }
}

@_cdecl("sg_handle_set_threads")
public func sg_handle_set_threads(_ handle: OpaquePointer?, _ threads: Int32) -> Int32 {
    call(handle, as: Handle.self) { (h) throws(SwiftGANError) in h.threads = try Threads.setting(Int(threads)) }
}

@_cdecl("sg_handle_get_threads")
public func sg_handle_get_threads(_ handle: OpaquePointer?, _ threads: UnsafeMutablePointer<Int32>?) -> Int32 {
    call(handle, as: Handle.self) { (h) throws(SwiftGANError) in
        try require(threads != nil, "threads is NULL")
        threads!.pointee = Int32(Threads.effective(h.threads))
    }
}

/// Tensor `index` of set `which`, its index checked.
private func entry(_ h: Handle, _ which: Int32, _ index: Int64) throws(SwiftGANError) -> HandleTensor {
    let set = try h.tensors(which)
    try require(index >= 0 && index < Int64(set.count), "index must be in [0, \(set.count)), got \(index)")
    return set[Int(index)]
}

@_cdecl("sg_tensor_count")
public func sg_tensor_count(_ handle: OpaquePointer?, _ which: Int32, _ count: UnsafeMutablePointer<Int64>?) -> Int32 {
    call(handle, as: Handle.self) { (h) throws(SwiftGANError) in
        try require(count != nil, "count is NULL")
        count!.pointee = Int64(try h.tensors(which).count)
    }
}

@_cdecl("sg_tensor_info")
public func sg_tensor_info(_ handle: OpaquePointer?, _ which: Int32, _ index: Int64,
                           _ name: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                           _ ndim: UnsafeMutablePointer<Int32>?, _ shape: UnsafeMutablePointer<Int64>?) -> Int32 {
    call(handle, as: Handle.self) { (h) throws(SwiftGANError) in
        let e = try entry(h, which, index)
        try require(e.shape.count <= Int(SG_MAX_DIMS), "tensor rank \(e.shape.count) exceeds \(SG_MAX_DIMS)")
        name?.pointee = UnsafePointer(e.name)
        ndim?.pointee = Int32(e.shape.count)
        for (i, d) in e.shape.enumerated() { shape?[i] = Int64(d) }
    }
}

@_cdecl("sg_tensor_read")
public func sg_tensor_read(_ handle: OpaquePointer?, _ which: Int32, _ index: Int64, _ out: UnsafeMutablePointer<Float>?,
                           _ count: Int64) -> Int32 {
    call(handle, as: Handle.self) { (h) throws(SwiftGANError) in
        let t = try entry(h, which, index).tensor()
        try require(out != nil, "out is NULL")
        try require(count == Int64(t.count), "count must be \(t.count) for tensor \(index) of shape \(t.shape), got \(count)")
        t.write(to: out!)
    }
}

@_cdecl("sg_tensor_write")
public func sg_tensor_write(_ handle: OpaquePointer?, _ which: Int32, _ n: Int64, _ indices: UnsafePointer<Int64>?,
                            _ values: UnsafePointer<sg_array>?) -> Int32 {
    call(handle, as: Handle.self) { (h) throws(SwiftGANError) in
        try require(which != tensorsGradients, "gradients are read-only")
        try require(n >= 0 && n <= 1 << 20, "n must be in [0, 2^20], got \(n)")
        try require(n == 0 || (indices != nil && values != nil), "indices or values is NULL")
        let set = try h.tensors(which)
        var writes: [(Tensor, UnsafePointer<Float>)] = []
        for i in 0..<Int(n) {  // every tensor checked before any is written
            let index = indices![i]
            try require(index >= 0 && index < Int64(set.count), "index must be in [0, \(set.count)), got \(index)")
            let e = set[Int(index)], name = String(cString: e.name), a = values![i]
            guard let p = a.values else { throw SwiftGANError("\(name): values is NULL") }
            try require(a.ndim >= 0 && a.ndim <= SG_MAX_DIMS, "\(name): ndim must be in [0, \(SG_MAX_DIMS)], got \(a.ndim)")
            let dims: [Int64] = withUnsafeBytes(of: a.shape) { Array($0.bindMemory(to: Int64.self).prefix(Int(a.ndim))) }
            let shape = dims.map { Int($0) }
            try require(shape == e.shape && a.count == Int64(e.shape.reduce(1, *)),
                        "\(name): expected shape \(e.shape), got \(shape)")
            try StateValues.check(name, UnsafeBufferPointer(start: p, count: Int(a.count)))
            writes.append((try e.tensor(), p))
        }
        for (t, v) in writes { t.assign(from: v) }
    }
}

// MARK: - Library

@_cdecl("sg_abi_version")
public func sg_abi_version() -> Int32 { SG_ABI_VERSION }

@_cdecl("sg_memory_available")
public func sg_memory_available(_ bytes: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded { () throws(SwiftGANError) in
        try require(bytes != nil, "bytes is NULL")
        bytes!.pointee = Int64(MemoryBudget.available())
    }
}
