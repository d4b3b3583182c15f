import CSwiftGAN
import Glibc
import SwiftGAN

// The C ABI declared in swiftgan.h (imported as CSwiftGAN: its types and constants are the header's): the library's
// tables and the GAN handle kind. Each function converts its arguments, calls the core under the handle's lock, and
// turns a thrown error into a status; every check and its message is the core's.

let statCount = Int(SG_STAT_COUNT)  // the header's SG_STAT_* follow StepStats.fields (python/tests/test_c_abi.py checks it)

/// What an `sg_handle*` of kind "gan" stands for: a trainer.
final class GANHandle: Handle {
    let trainer: GANTrainer
    private var names: [UnsafeMutablePointer<CChar>] = []
    private var gradientNames: [UnsafeMutablePointer<CChar>] = []

    init(trainer: GANTrainer) {
        self.trainer = trainer
        super.init()
        names = trainer.fullStateInfo.map { cString($0.name) }
        gradientNames = trainer.parameterNames.map { cString($0) }
    }

    override class var kind: String { "gan" }
    override class var description: String { "GAN" }
    override class var creator: String { "sg_gan_create" }

    override var configText: String { trainer.config.text }

    override func tensors(_ which: Int32) throws(SwiftGANError) -> [HandleTensor] {
        // Shapes without reading the tensors: optimizer state is created only when one of its tensors is read, and
        // a gradient has its parameter's shape before any gradient is retained.
        let t = trainer, info = t.fullStateInfo
        switch which {
        case tensorsModel, tensorsFull:
            let count = which == tensorsModel ? t.modelState.count : info.count
            return (0..<count).map { i in HandleTensor(name: names[i], shape: info[i].shape) { t.fullState[i].1 } }
        case tensorsGradients:
            return zip(gradientNames, t.parameterNames).map { cName, name in
                HandleTensor(name: cName, shape: info.first { $0.name == name }!.shape) { () throws(SwiftGANError) in
                    guard let g = t.retainedGradients[name] else {
                        throw SwiftGANError("no gradient retained for \(name): enable retain_gradients, then train a step")
                    }
                    return g
                }
            }
        default:
            throw unknownSet(which, kind: "GAN", sets: "SG_TENSORS_MODEL (0), SG_TENSORS_FULL (1) or SG_TENSORS_GRADIENTS (2)")
        }
    }
}

private func call(_ gan: OpaquePointer?, _ body: (GANHandle) throws(SwiftGANError) -> Void) -> Int32 {
    call(gan, as: GANHandle.self, body)
}

// MARK: - Tables

@_cdecl("sg_options")
public func sg_options(_ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int64, _ needed: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded { () throws(SwiftGANError) in try writeText(GANConfig.table, buffer, capacity, needed) }
}

@_cdecl("sg_stat_names")
public func sg_stat_names(_ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int64, _ needed: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded { () throws(SwiftGANError) in
        try writeText(StepStats.fields.map { "\($0.name)\t\($0.meaning)\n" }.joined(), buffer, capacity, needed)
    }
}

@_cdecl("sg_kernels")
public func sg_kernels(_ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int64, _ needed: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded { () throws(SwiftGANError) in
        try writeText("openblas\t\(openBLASKernels)\nonednn\t\(Precision.oneDNNInstructionSet)\n", buffer, capacity, needed)
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

// MARK: - Branch log (tests comparing runs up to rounding)

@_cdecl("sg_branch_log_set_enabled")
public func sg_branch_log_set_enabled(_ on: Int32) { BranchLog.setEnabled(on != 0) }

@_cdecl("sg_branch_log_read")
public func sg_branch_log_read(_ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int64, _ needed: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded { () throws(SwiftGANError) in
        guard let calls = BranchLog.calls else { throw SwiftGANError("no branch log is on in this thread") }
        try writeText(calls.map { "\($0.elements)\t\($0.branchSum)\t\($0.margin)\n" }.joined(), buffer, capacity, needed)
    }
}

// MARK: - GANs

@_cdecl("sg_gan_create")
public func sg_gan_create(_ config: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    create(out) { () throws(SwiftGANError) in
        GANHandle(trainer: try GANTrainer(config: try GANConfig(text: config.map { String(cString: $0) } ?? "")))
    }
}

@_cdecl("sg_gan_step_inputs")
public func sg_gan_step_inputs(_ gan: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int64,
                               _ needed: UnsafeMutablePointer<Int64>?) -> Int32 {
    call(gan) { (h) throws(SwiftGANError) in
        try writeText(h.trainer.stepInputSpecs.map { "\($0.name)\t\($0.shapeText)\t\($0.perCriticStep ? 1 : 0)\t\($0.meaning)\n" }
            .joined(), buffer, capacity, needed)
    }
}

@_cdecl("sg_gan_train_step")
public func sg_gan_train_step(_ gan: OpaquePointer?, _ inputs: UnsafePointer<sg_named_array>?, _ count: Int32,
                              _ stats: UnsafeMutablePointer<Double>?, _ statsCapacity: Int32) -> Int32 {
    call(gan) { (h) throws(SwiftGANError) in
        try require(count >= 0 && count <= 64, "count must be in [0, 64], got \(count)")
        try require(inputs != nil || count == 0, "inputs is NULL with count \(count)")
        try require(statsCapacity >= 0 && (stats != nil || statsCapacity == 0), "stats is NULL with capacity \(statsCapacity)")
        var named: [(String, Tensor)] = []
        for i in 0..<Int(count) {
            guard let cName = inputs![i].name else { throw SwiftGANError("inputs[\(i)]: name is NULL") }
            let name = String(cString: cName)
            guard let t = try tensor(inputs![i].array, name) else { continue }  // NULL values: drawn by the GAN
            named.append((name, t))
        }
        let values = try h.trainer.trainStep(h.trainer.stepInputs(named)).values
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

@_cdecl("sg_gan_set_retain_gradients")
public func sg_gan_set_retain_gradients(_ gan: OpaquePointer?, _ on: Int32) -> Int32 {
    call(gan) { (h) throws(SwiftGANError) in h.trainer.retainGradients = on != 0 }
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
