import Glibc
import SwiftGAN

// The C ABI declared in swiftgan.h. Each function converts its arguments,
// calls the core under the handle's lock, and turns a thrown error into a status.

let abiVersion: Int32 = 6
let statusOK: Int32 = 0, statusInvalidArgument: Int32 = 1, statusEngineError: Int32 = 2
let counterCount = 11, statCount = 7

// MARK: - Handle

/// What an `sg_gan*` points to: a trainer, its lock, and the C strings it hands out.
final class GANHandle {
    let trainer: GANTrainer
    var mutex = pthread_mutex_t()
    let names: [UnsafeMutablePointer<CChar>]
    let gradientNames: [UnsafeMutablePointer<CChar>]
    /// Random inputs given with sg_gan_set_input for the next step.
    var staged: [String: [Float]] = [:]
    /// Threads every call on this handle uses (sg_gan_set_threads).
    var threads = Threads.initial

    init(trainer: GANTrainer) {
        self.trainer = trainer
        names = trainer.fullStateInfo.map { strdup($0.name)! }
        gradientNames = trainer.parameterNames.map { strdup($0)! }
        pthread_mutex_init(&mutex, nil)
    }

    deinit {
        names.forEach { free($0) }
        gradientNames.forEach { free($0) }
        pthread_mutex_destroy(&mutex)
    }

    func locked<R>(_ body: () throws(SwiftGANError) -> R) throws(SwiftGANError) -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        Threads.use(threads)
        return try body()
    }
}

// MARK: - Errors

private let errorKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { free($0) }
    return key
}()

private let emptyMessage: UnsafeMutablePointer<CChar> = strdup("")!

private func setLastError(_ message: String) {
    if let old = pthread_getspecific(errorKey) { free(old) }
    pthread_setspecific(errorKey, strdup(message))
}

/// Runs `body` on the handle behind `gan`, mapping errors to statuses.
private func call(_ gan: OpaquePointer?, _ body: (GANHandle) throws(SwiftGANError) -> Void) -> Int32 {
    guard let gan else {
        setLastError("the GAN handle is NULL (closed?)")
        return statusInvalidArgument
    }
    let handle = Unmanaged<GANHandle>.fromOpaque(UnsafeRawPointer(gan)).takeUnretainedValue()
    return guarded { () throws(SwiftGANError) in
        try handle.locked { () throws(SwiftGANError) in try Profile.timeCall { () throws(SwiftGANError) in try body(handle) } }
    }
}

private func guarded(_ body: () throws(SwiftGANError) -> Void) -> Int32 {
    do {
        try body()
        return statusOK
    } catch {
        setLastError(error.message)
        return error.isInvalidArgument ? statusInvalidArgument : statusEngineError
    }
}

private func require(_ condition: Bool, _ message: @autoclosure () -> String) throws(SwiftGANError) {
    if !condition { throw SwiftGANError(message()) }
}

private func tensor(_ p: UnsafePointer<Float>, _ shape: [Int]) -> Tensor {
    let t = Tensor(repeating: 0, shape: shape)
    t.assign(from: p)
    return t
}

// MARK: - Library

@_cdecl("sg_abi_version")
public func sg_abi_version() -> Int32 { abiVersion }

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
        out.pointee = OpaquePointer(Unmanaged.passRetained(GANHandle(trainer: trainer)).toOpaque())
    }
}

@_cdecl("sg_gan_free")
public func sg_gan_free(_ gan: OpaquePointer?) {
    guard let gan else { return }
    Unmanaged<GANHandle>.fromOpaque(UnsafeRawPointer(gan)).release()
}

/// Copies `text` NUL-terminated into a caller's buffer, reporting the size needed.
private func writeText(_ text: String, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int64,
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

/// The random inputs `sg_gan_set_input` accepts, with the shape of one critic step's entry
/// (`nil` count: a whole real batch) and whether there is one per critic step.
private func inputLayout(_ name: String, _ t: GANTrainer, batch b: Int) -> (perStep: [Int], perCritic: Bool)? {
    switch name {
    case "z": return ([b, t.config.zDim], true)
    case "z_g": return ([b, t.config.zDim], false)
    case "u", "dragan_alpha": return ([b], true)
    case "dragan_noise": return ([b] + t.sampleShape, true)
    default: return nil
    }
}

let inputNames = ["z", "z_g", "u", "dragan_alpha", "dragan_noise"]

@_cdecl("sg_gan_set_input")
public func sg_gan_set_input(_ gan: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ values: UnsafePointer<Float>?,
                             _ count: Int64) -> Int32 {
    call(gan) { (h) throws(SwiftGANError) in
        try require(name != nil && values != nil, "name and values must not be NULL")
        let key = String(cString: name!)
        try require(inputNames.contains(key), "unknown input '\(key)'; known inputs: \(inputNames.joined(separator: ", "))")
        try require(count >= 0 && count <= 1 << 32, "count must be in [0, 2^32], got \(count)")
        h.staged[key] = Array(UnsafeBufferPointer(start: values!, count: Int(count)))
    }
}

@_cdecl("sg_gan_train_step")
public func sg_gan_train_step(_ gan: OpaquePointer?, _ real: UnsafePointer<Float>?, _ realBatches: Int64, _ batch: Int64,
                              _ stats: UnsafeMutablePointer<Double>?, _ statsCapacity: Int32) -> Int32 {
    call(gan) { (h) throws(SwiftGANError) in
        let staged = h.staged
        h.staged = [:]  // staged inputs serve one step, even a failed one
        let t = h.trainer, k = t.config.criticSteps
        try require(real != nil, "real is NULL")
        try require(batch >= 1 && batch <= 1 << 20, "batch must be in [1, 2^20], got \(batch)")
        try require(realBatches == 1 || realBatches == Int64(k), "real must hold 1 or n_critic=\(k) batches, got \(realBatches)")
        let b = Int(batch)
        let sample = [b] + t.sampleShape, sampleCount = sample.reduce(1, *)
        var inputs = StepInputs(real: (0..<Int(realBatches)).map { tensor(real! + $0 * sampleCount, sample) })
        var lists: [String: [Tensor]] = [:]
        for (name, values) in staged {
            let layout = inputLayout(name, t, batch: b)!
            let entries = layout.perCritic ? k : 1, size = layout.perStep.reduce(1, *)
            try require(values.count == entries * size,
                        "\(name) must hold \(entries * size) values (\(entries) × \(layout.perStep)), got \(values.count)")
            lists[name] = values.withUnsafeBufferPointer { p in (0..<entries).map { tensor(p.baseAddress! + $0 * size, layout.perStep) } }
        }
        inputs.noiseD = lists["z"]
        inputs.noiseG = lists["z_g"]?.first
        inputs.mixing = lists["u"]
        inputs.draganAlpha = lists["dragan_alpha"]
        inputs.draganNoise = lists["dragan_noise"]
        let result = try t.trainStep(inputs)
        let values = [result.discriminatorLoss, result.generatorLoss, result.criticReal, result.criticFake, result.penalty,
                      result.k, result.mGlobal]
        for i in 0..<min(Int(statsCapacity), statCount) { stats?[i] = Double(values[i]) }
    }
}

@_cdecl("sg_gan_generate")
public func sg_gan_generate(_ gan: OpaquePointer?, _ z: UnsafePointer<Float>?, _ n: Int64, _ out: UnsafeMutablePointer<Float>?) -> Int32 {
    call(gan) { (h) throws(SwiftGANError) in
        try require(z != nil && out != nil, "z and out must not be NULL")
        try require(n >= 1 && n <= 1 << 20, "n must be in [1, 2^20], got \(n)")
        try h.trainer.generate(tensor(z!, [Int(n), h.trainer.config.zDim]), into: out!)
    }
}

@_cdecl("sg_gan_sample")
public func sg_gan_sample(_ gan: OpaquePointer?, _ n: Int64, _ out: UnsafeMutablePointer<Float>?) -> Int32 {
    call(gan) { (h) throws(SwiftGANError) in
        try require(out != nil, "out is NULL")
        try require(n >= 1 && n <= 1 << 20, "n must be in [1, 2^20], got \(n)")
        try h.trainer.sample(Int(n), into: out!)
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
        let t = try entry(h, which, index).1
        try require(values != nil, "values is NULL")
        try require(count == Int64(t.count), "count must be \(t.count) for tensor \(index) of shape \(t.shape), got \(count)")
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
        h.threads = threads == 0 ? Threads.initial : Int(threads)
    }
}

@_cdecl("sg_gan_get_threads")
public func sg_gan_get_threads(_ gan: OpaquePointer?, _ threads: UnsafeMutablePointer<Int32>?) -> Int32 {
    call(gan) { (h) throws(SwiftGANError) in
        try require(threads != nil, "threads is NULL")
        threads!.pointee = Int32(h.threads)
    }
}

@_cdecl("sg_gan_counters_read")
public func sg_gan_counters_read(_ gan: OpaquePointer?, _ out: UnsafeMutablePointer<UInt64>?, _ count: Int32) -> Int32 {
    call(gan) { (h) throws(SwiftGANError) in
        try require(out != nil && Int(count) == counterCount, "counters: out must hold \(counterCount) values, got \(count)")
        for (i, v) in h.trainer.counters.enumerated() { out![i] = v }
    }
}

@_cdecl("sg_gan_counters_write")
public func sg_gan_counters_write(_ gan: OpaquePointer?, _ values: UnsafePointer<UInt64>?, _ count: Int32) -> Int32 {
    call(gan) { (h) throws(SwiftGANError) in
        try require(values != nil && Int(count) == counterCount, "counters: values must hold \(counterCount) values, got \(count)")
        h.trainer.counters = (0..<counterCount).map { values![$0] }
    }
}
