import CSwiftGAN
import Glibc
import SwiftGAN

// The C ABI declared in swiftgan.h (imported as CSwiftGAN: its types and constants are the header's).
// Each function converts its arguments, calls the core under the handle's lock, and turns a thrown error
// into a status; shapes and their messages are the core's.

let statCount = Int(SG_STAT_COUNT)  // the header's SG_STAT_* follow StepStats.fields (python/tests/test_c_abi.py checks it)

// MARK: - Handle

/// What a handle stands for: an object with its lock and its thread count, which every call on it takes.
class LockedHandle {
    var mutex = pthread_mutex_t()
    /// Threads every call on this handle uses (sg_gan_set_threads).
    var threads = Threads.initial

    init() { pthread_mutex_init(&mutex, nil) }

    deinit { pthread_mutex_destroy(&mutex) }

    func locked<R>(_ body: () throws(SwiftGANError) -> R) throws(SwiftGANError) -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        Threads.use(threads)
        return try body()
    }
}

/// What an `sg_gan*` stands for: a trainer, and the C strings it hands out.
final class GANHandle: LockedHandle {
    let trainer: GANTrainer
    let names: [UnsafeMutablePointer<CChar>]
    let gradientNames: [UnsafeMutablePointer<CChar>]

    init(trainer: GANTrainer) {
        self.trainer = trainer
        names = trainer.fullStateInfo.map { strdup($0.name)! }
        gradientNames = trainer.parameterNames.map { strdup($0)! }
    }

    deinit {
        names.forEach { free($0) }
        gradientNames.forEach { free($0) }
    }
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

/// The live handles. An `sg_gan*` is a token, never an address: each `sg_gan_create` issues a new one (never
/// reused), and every call looks it up here, so a freed handle, a pointer of another kind or garbage is refused
/// with SG_INVALID_ARGUMENT instead of being dereferenced. A call holds its handle strongly, so a concurrent
/// `sg_gan_free` only ends the handle when the calls under way are done.
private final class HandleRegistry: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var handles: [UInt: LockedHandle] = [:]
    private var nextToken: UInt = 0x5347_0000_0001  // "SG": far from small integers and typical heap addresses

    init() { pthread_mutex_init(&mutex, nil) }

    private func locked<R>(_ body: () -> R) -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }

    func add(_ handle: LockedHandle) -> OpaquePointer {
        let token = locked { () -> UInt in
            let token = nextToken
            nextToken += 2
            handles[token] = handle
            return token
        }
        return OpaquePointer(bitPattern: token)!
    }

    func find(_ handle: OpaquePointer) -> LockedHandle? { locked { handles[UInt(bitPattern: handle)] } }

    /// Removes the handle when it is a live one of kind `H`; false otherwise.
    func remove<H: LockedHandle>(_ handle: OpaquePointer, as kind: H.Type) -> Bool {
        locked { () -> Bool in
            guard handles[UInt(bitPattern: handle)] is H else { return false }
            handles[UInt(bitPattern: handle)] = nil
            return true
        }
    }
}

private let liveHandles = HandleRegistry()

/// Runs `body` on the GAN handle behind `gan`, mapping errors to statuses.
private func call(_ gan: OpaquePointer?, _ body: (GANHandle) throws(SwiftGANError) -> Void) -> Int32 {
    callHandle(gan, as: GANHandle.self, kind: "GAN", made: "sg_gan_create", body)
}

/// Runs `body` on the live handle of kind `H` behind `pointer` under its lock, mapping errors to statuses; a
/// NULL, freed, foreign or other-kind pointer gives SG_INVALID_ARGUMENT.
func callHandle<H: LockedHandle>(_ pointer: OpaquePointer?, as: H.Type, kind: String, made: String,
                                 _ body: (H) throws(SwiftGANError) -> Void) -> Int32 {
    guard let pointer else {
        setLastError("the \(kind) handle is NULL (closed?)")
        return SG_INVALID_ARGUMENT
    }
    guard let handle = liveHandles.find(pointer) as? H else {
        setLastError("\(pointer) is not a live \(kind) handle: freed already, or not made by \(made)")
        return SG_INVALID_ARGUMENT
    }
    return guarded { () throws(SwiftGANError) in
        try handle.locked { () throws(SwiftGANError) in try Profile.timeCall { () throws(SwiftGANError) in try body(handle) } }
    }
}

/// Frees the live handle of kind `H` behind `pointer` (NULL: nothing to do).
func freeHandle<H: LockedHandle>(_ pointer: OpaquePointer?, as kind: H.Type, name: String, made: String) -> Int32 {
    guard let pointer else { return SG_OK }
    guard liveHandles.remove(pointer, as: kind) else {
        setLastError("\(pointer) is not a live \(name) handle: freed already, or not made by \(made)")
        return SG_INVALID_ARGUMENT
    }
    return SG_OK
}

/// A new handle for `handle`, registered as live.
func register(_ handle: LockedHandle) -> OpaquePointer { liveHandles.add(handle) }

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

// MARK: - Library

@_cdecl("sg_abi_version")
public func sg_abi_version() -> Int32 { SG_ABI_VERSION }

@_cdecl("sg_last_error")
public func sg_last_error() -> UnsafePointer<CChar> {
    UnsafePointer(pthread_getspecific(errorKey)?.assumingMemoryBound(to: CChar.self) ?? emptyMessage)
}

// MARK: - Lifetime

@_cdecl("sg_gan_create")
public func sg_gan_create(_ config: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded { () throws(SwiftGANError) in
        guard let out else { throw SwiftGANError("out is NULL") }
        out.pointee = nil
        let text = config.map { String(cString: $0) } ?? ""
        let trainer = try GANTrainer(config: try GANConfig(text: text))
        out.pointee = register(GANHandle(trainer: trainer))
    }
}

@_cdecl("sg_gan_free")
public func sg_gan_free(_ gan: OpaquePointer?) -> Int32 {
    freeHandle(gan, as: GANHandle.self, name: "GAN", made: "sg_gan_create")
}

/// Copies `text` NUL-terminated into a caller's buffer, reporting the size needed.
func writeText(_ text: String, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int64,
                       _ needed: UnsafeMutablePointer<Int64>?) throws(SwiftGANError) {
    let bytes = Array(text.utf8CString)
    needed?.pointee = Int64(bytes.count)
    try require(buffer != nil && capacity >= Int64(bytes.count), "buffer too small: \(bytes.count) bytes needed")
    bytes.withUnsafeBufferPointer { buffer!.update(from: $0.baseAddress!, count: bytes.count) }
}

@_cdecl("sg_gan_config")
public func sg_gan_config(_ gan: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int64,
                          _ needed: UnsafeMutablePointer<Int64>?) -> Int32 {
    call(gan) { (h) throws(SwiftGANError) in
        try writeText(h.trainer.config.keyValues.map { "\($0.0)=\($0.1)\n" }.joined(), buffer, capacity, needed)
    }
}

@_cdecl("sg_options")
public func sg_options(_ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int64, _ needed: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded { () throws(SwiftGANError) in
        try writeText(GANConfig.options.map { "\($0.name)\t\($0.kind.name)\t\($0.defaultValue)\t\($0.kind.values)\t\($0.help)\t\($0.scope.text)\n" }
            .joined(), buffer, capacity, needed)
    }
}

@_cdecl("sg_stat_names")
public func sg_stat_names(_ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int64, _ needed: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded { () throws(SwiftGANError) in
        try writeText(StepStats.fields.map { "\($0.name)\t\($0.meaning)\n" }.joined(), buffer, capacity, needed)
    }
}

@_cdecl("sg_catalogue")
public func sg_catalogue(_ what: Int32, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int64,
                         _ needed: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded { () throws(SwiftGANError) in
        let entries: [(String, String)]
        switch what {
        case 0: entries = Catalogue.losses
        case 1: entries = Catalogue.penalties
        case 2: entries = Catalogue.architectures
        default: throw SwiftGANError("what must be 0 (losses), 1 (penalties) or 2 (architectures), got \(what)")
        }
        try writeText(entries.map { "\($0.0)\t\($0.1)\n" }.joined(), buffer, capacity, needed)
    }
}

// MARK: - Profile

@_cdecl("sg_profile_set_enabled")
public func sg_profile_set_enabled(_ on: Int32) { Profile.isEnabled = on != 0 }

@_cdecl("sg_profile_read")
public func sg_profile_read(_ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int64, _ needed: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded { () throws(SwiftGANError) in
        try writeText(Profile.report.map { "\($0.0)\t\($0.1)\n" }.joined(), buffer, capacity, needed)
    }
}

@_cdecl("sg_profile_reset")
public func sg_profile_reset() { Profile.reset() }

// MARK: - Training and sampling

@_cdecl("sg_gan_train_step")
public func sg_gan_train_step(_ gan: OpaquePointer?, _ inputs: UnsafePointer<sg_step_inputs>?,
                              _ stats: UnsafeMutablePointer<Double>?, _ statsCapacity: Int32) -> Int32 {
    call(gan) { (h) throws(SwiftGANError) in
        try require(inputs != nil, "inputs is NULL")
        try require(statsCapacity >= 0 && (stats != nil || statsCapacity == 0), "stats is NULL with capacity \(statsCapacity)")
        let i = inputs!.pointee
        guard let real = try tensor(i.real, "real") else { throw SwiftGANError("real is required (its values are NULL)") }
        let result = try h.trainer.trainStep(
            h.trainer.stepInputs(real: real, noiseD: try tensor(i.z, "z"), noiseG: try tensor(i.z_g, "z_g"),
                                 mixing: try tensor(i.u, "u"), draganAlpha: try tensor(i.dragan_alpha, "dragan_alpha"),
                                 draganNoise: try tensor(i.dragan_noise, "dragan_noise")))
        let values = result.values
        for i in 0..<min(Int(statsCapacity), statCount) { stats![i] = Double(values[i]) }
    }
}

@_cdecl("sg_gan_generate")
public func sg_gan_generate(_ gan: OpaquePointer?, _ z: UnsafePointer<sg_array>?, _ out: UnsafeMutablePointer<Float>?,
                            _ outCount: Int64) -> Int32 {
    call(gan) { (h) throws(SwiftGANError) in
        try require(z != nil, "z is NULL")
        guard let latents = try tensor(z!.pointee, "z") else { throw SwiftGANError("z: values is NULL") }
        try h.trainer.generate(latents, into: try output(out, outCount))
    }
}

@_cdecl("sg_gan_sample")
public func sg_gan_sample(_ gan: OpaquePointer?, _ n: Int64, _ out: UnsafeMutablePointer<Float>?, _ outCount: Int64) -> Int32 {
    call(gan) { (h) throws(SwiftGANError) in
        try require(n >= 1 && n <= 1 << 20, "n must be in [1, 2^20], got \(n)")
        try h.trainer.sample(Int(n), into: try output(out, outCount))
    }
}

// MARK: - State

let tensorsModel: Int32 = 0, tensorsFull: Int32 = 1, tensorsGradients: Int32 = 2

/// The tensors of set `which` with their C names.
private func tensorSet(_ h: GANHandle, _ which: Int32) throws(SwiftGANError) -> [(UnsafeMutablePointer<CChar>, () throws(SwiftGANError) -> Tensor)] {
    switch which {
    case tensorsModel:
        return zip(h.names, h.trainer.modelState).map { name, entry in (name, { () throws(SwiftGANError) in entry.1 }) }
    case tensorsFull:  // optimizer state is created only when one of its tensors is read
        let t = h.trainer
        return h.names.enumerated().map { i, name in (name, { () throws(SwiftGANError) in t.fullState[i].1 }) }
    case tensorsGradients:
        let t = h.trainer
        return zip(h.gradientNames, t.parameterNames).map { cName, name in
            (cName, { () throws(SwiftGANError) in
                guard let g = t.retainedGradients[name] else {
                    throw SwiftGANError("no gradient retained for \(name): enable retain_gradients, then train a step")
                }
                return g
            })
        }
    default:
        throw SwiftGANError("which must be SG_TENSORS_MODEL (0), SG_TENSORS_FULL (1) or SG_TENSORS_GRADIENTS (2), got \(which)")
    }
}

private func entry(_ h: GANHandle, _ which: Int32, _ index: Int64) throws(SwiftGANError) -> (UnsafeMutablePointer<CChar>, Tensor) {
    let set = try tensorSet(h, which)
    try require(index >= 0 && index < Int64(set.count), "index must be in [0, \(set.count)), got \(index)")
    return (set[Int(index)].0, try set[Int(index)].1())
}

@_cdecl("sg_gan_tensor_count")
public func sg_gan_tensor_count(_ gan: OpaquePointer?, _ which: Int32, _ count: UnsafeMutablePointer<Int64>?) -> Int32 {
    call(gan) { (h) throws(SwiftGANError) in
        try require(count != nil, "count is NULL")
        count!.pointee = Int64(try tensorSet(h, which).count)
    }
}

@_cdecl("sg_gan_tensor_info")
public func sg_gan_tensor_info(_ gan: OpaquePointer?, _ which: Int32, _ index: Int64,
                               _ name: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                               _ ndim: UnsafeMutablePointer<Int32>?, _ shape: UnsafeMutablePointer<Int64>?) -> Int32 {
    call(gan) { (h) throws(SwiftGANError) in
        let set = try tensorSet(h, which)
        try require(index >= 0 && index < Int64(set.count), "index must be in [0, \(set.count)), got \(index)")
        // Shapes without reading the tensors: a gradient has its parameter's shape, known before any gradient
        // is retained, and optimizer state is not created by asking for its shape.
        let info = h.trainer.fullStateInfo
        let dims = which == tensorsGradients
            ? info.first { $0.name == h.trainer.parameterNames[Int(index)] }!.shape
            : info[Int(index)].shape  // the model's tensors come first in the full set
        try require(dims.count <= 8, "tensor rank \(dims.count) exceeds 8")
        name?.pointee = UnsafePointer(set[Int(index)].0)
        ndim?.pointee = Int32(dims.count)
        for (i, d) in dims.enumerated() { shape?[i] = Int64(d) }
    }
}

@_cdecl("sg_gan_tensor_read")
public func sg_gan_tensor_read(_ gan: OpaquePointer?, _ which: Int32, _ index: Int64, _ out: UnsafeMutablePointer<Float>?,
                               _ count: Int64) -> Int32 {
    call(gan) { (h) throws(SwiftGANError) in
        let t = try entry(h, which, index).1
        try require(out != nil, "out is NULL")
        try require(count == Int64(t.count), "count must be \(t.count) for tensor \(index) of shape \(t.shape), got \(count)")
        t.write(to: out!)
    }
}

@_cdecl("sg_gan_tensor_write")
public func sg_gan_tensor_write(_ gan: OpaquePointer?, _ which: Int32, _ index: Int64, _ values: UnsafePointer<Float>?,
                                _ count: Int64) -> Int32 {
    call(gan) { (h) throws(SwiftGANError) in
        try require(which != tensorsGradients, "gradients are read-only")
        let (name, t) = try entry(h, which, index)
        try require(values != nil, "values is NULL")
        try require(count == Int64(t.count), "count must be \(t.count) for tensor \(index) of shape \(t.shape), got \(count)")
        try GANTrainer.checkStateValues(String(cString: name), UnsafeBufferPointer(start: values, count: t.count))
        t.assign(from: values!)
    }
}

@_cdecl("sg_gan_set_retain_gradients")
public func sg_gan_set_retain_gradients(_ gan: OpaquePointer?, _ on: Int32) -> Int32 {
    call(gan) { (h) throws(SwiftGANError) in h.trainer.retainGradients = on != 0 }
}

@_cdecl("sg_gan_set_threads")
public func sg_gan_set_threads(_ gan: OpaquePointer?, _ threads: Int32) -> Int32 {
    call(gan) { (h) throws(SwiftGANError) in
        try require(threads >= 0 && threads <= 1024, "threads must be in [1, 1024] (0: the default), got \(threads)")
        try require(!Threads.isForkedChild || threads <= 1, Threads.forkedChildMessage(asked: Int(threads)))
        h.threads = threads == 0 ? Threads.initial : Int(threads)
    }
}

@_cdecl("sg_gan_get_threads")
public func sg_gan_get_threads(_ gan: OpaquePointer?, _ threads: UnsafeMutablePointer<Int32>?) -> Int32 {
    call(gan) { (h) throws(SwiftGANError) in
        try require(threads != nil, "threads is NULL")
        threads!.pointee = Int32(Threads.effective(h.threads))
    }
}

@_cdecl("sg_gan_scalars_read")
public func sg_gan_scalars_read(_ gan: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int64,
                                _ needed: UnsafeMutablePointer<Int64>?) -> Int32 {
    call(gan) { (h) throws(SwiftGANError) in
        try writeText(h.trainer.scalars.map { "\($0.0)=\($0.1)\n" }.joined(), buffer, capacity, needed)
    }
}

@_cdecl("sg_gan_scalars_write")
public func sg_gan_scalars_write(_ gan: OpaquePointer?, _ text: UnsafePointer<CChar>?) -> Int32 {
    call(gan) { (h) throws(SwiftGANError) in
        try require(text != nil, "text is NULL")
        var pairs: [(String, String)] = []
        for line in String(cString: text!).split(separator: "\n") where !line.isEmpty {
            guard let eq = line.firstIndex(of: "=") else { throw SwiftGANError("scalar line '\(line)' is not of the form name=value") }
            pairs.append((String(line[..<eq]), String(line[line.index(after: eq)...])))
        }
        try h.trainer.setScalars(pairs)
    }
}
