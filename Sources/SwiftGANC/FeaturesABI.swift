import CSwiftGAN
import Glibc
import SwiftGAN

// The feature networks' part of the C ABI (swiftgan.h, "Feature networks"): the same conventions as the GAN's
// (handles are tokens, calls under the handle's lock, shapes checked by the core, statuses and messages).

/// What an `sg_features*` stands for: a feature network with its trainer, and its tensors' C names.
final class FeatureHandle: LockedHandle {
    let trainer: FeatureTrainer
    let state: [(UnsafeMutablePointer<CChar>, Tensor)]

    init(trainer: FeatureTrainer) {
        self.trainer = trainer
        state = trainer.network.namedState.map { (strdup($0.0)!, $0.1) }
    }

    deinit { state.forEach { free($0.0) } }
}

private func callFeatures(_ handle: OpaquePointer?, _ body: (FeatureHandle) throws(SwiftGANError) -> Void) -> Int32 {
    callHandle(handle, as: FeatureHandle.self, kind: "feature network", made: "sg_features_create", body)
}

@_cdecl("sg_features_create")
public func sg_features_create(_ config: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded { () throws(SwiftGANError) in
        guard let out else { throw SwiftGANError("out is NULL") }
        out.pointee = nil
        let config = try FeatureConfig(text: config.map { String(cString: $0) } ?? "")
        out.pointee = register(FeatureHandle(trainer: try FeatureTrainer(config: config)))
    }
}

@_cdecl("sg_features_free")
public func sg_features_free(_ handle: OpaquePointer?) -> Int32 {
    freeHandle(handle, as: FeatureHandle.self, name: "feature network", made: "sg_features_create")
}

@_cdecl("sg_features_config")
public func sg_features_config(_ handle: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int64,
                               _ needed: UnsafeMutablePointer<Int64>?) -> Int32 {
    callFeatures(handle) { (h) throws(SwiftGANError) in
        try writeText(h.trainer.config.text + "features=\(h.trainer.network.featureCount)\n", buffer, capacity, needed)
    }
}

@_cdecl("sg_features_train_step")
public func sg_features_train_step(_ handle: OpaquePointer?, _ images: UnsafePointer<sg_array>?,
                                   _ labels: UnsafePointer<Int32>?, _ labelCount: Int64,
                                   _ stats: UnsafeMutablePointer<Double>?) -> Int32 {
    callFeatures(handle) { (h) throws(SwiftGANError) in
        try require(images != nil, "images is NULL")
        guard let x = try tensor(images!.pointee, "images") else { throw SwiftGANError("images: values is NULL") }
        try require(labels != nil || labelCount == 0, "labels is NULL with count \(labelCount)")
        try require(labelCount >= 0 && labelCount <= 1 << 31, "labels: count must be in [0, 2^31], got \(labelCount)")
        let given = (0..<Int(labelCount)).map { Int(labels![$0]) }
        let (loss, accuracy) = try h.trainer.trainStep(images: x, labels: given)
        stats?[0] = Double(loss)
        stats?[1] = Double(accuracy)
    }
}

@_cdecl("sg_features_evaluate")
public func sg_features_evaluate(_ handle: OpaquePointer?, _ images: UnsafePointer<sg_array>?, _ logits: Int32,
                                 _ out: UnsafeMutablePointer<Float>?, _ outCount: Int64) -> Int32 {
    callFeatures(handle) { (h) throws(SwiftGANError) in
        try require(images != nil, "images is NULL")
        guard let x = try tensor(images!.pointee, "images") else { throw SwiftGANError("images: values is NULL") }
        try h.trainer.evaluate(x, logits: logits != 0, into: try output(out, outCount))
    }
}

@_cdecl("sg_features_tensor_count")
public func sg_features_tensor_count(_ handle: OpaquePointer?, _ count: UnsafeMutablePointer<Int64>?) -> Int32 {
    callFeatures(handle) { (h) throws(SwiftGANError) in
        try require(count != nil, "count is NULL")
        count!.pointee = Int64(h.state.count)
    }
}

private func stateEntry(_ h: FeatureHandle, _ index: Int64) throws(SwiftGANError) -> (UnsafeMutablePointer<CChar>, Tensor) {
    try require(index >= 0 && index < Int64(h.state.count), "index must be in [0, \(h.state.count)), got \(index)")
    return h.state[Int(index)]
}

@_cdecl("sg_features_tensor_info")
public func sg_features_tensor_info(_ handle: OpaquePointer?, _ index: Int64,
                                    _ name: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                    _ ndim: UnsafeMutablePointer<Int32>?, _ shape: UnsafeMutablePointer<Int64>?) -> Int32 {
    callFeatures(handle) { (h) throws(SwiftGANError) in
        let (cName, t) = try stateEntry(h, index)
        try require(t.shape.count <= 8, "tensor rank \(t.shape.count) exceeds 8")
        name?.pointee = UnsafePointer(cName)
        ndim?.pointee = Int32(t.shape.count)
        for (i, d) in t.shape.enumerated() { shape?[i] = Int64(d) }
    }
}

@_cdecl("sg_features_tensor_read")
public func sg_features_tensor_read(_ handle: OpaquePointer?, _ index: Int64, _ out: UnsafeMutablePointer<Float>?,
                                    _ count: Int64) -> Int32 {
    callFeatures(handle) { (h) throws(SwiftGANError) in
        let t = try stateEntry(h, index).1
        try require(out != nil, "out is NULL")
        try require(count == Int64(t.count), "count must be \(t.count) for tensor \(index) of shape \(t.shape), got \(count)")
        t.write(to: out!)
    }
}

@_cdecl("sg_features_tensor_write")
public func sg_features_tensor_write(_ handle: OpaquePointer?, _ index: Int64, _ values: UnsafePointer<Float>?,
                                     _ count: Int64) -> Int32 {
    callFeatures(handle) { (h) throws(SwiftGANError) in
        let t = try stateEntry(h, index).1
        try require(values != nil, "values is NULL")
        try require(count == Int64(t.count), "count must be \(t.count) for tensor \(index) of shape \(t.shape), got \(count)")
        t.assign(from: values!)
    }
}

@_cdecl("sg_features_set_threads")
public func sg_features_set_threads(_ handle: OpaquePointer?, _ threads: Int32) -> Int32 {
    callFeatures(handle) { (h) throws(SwiftGANError) in
        try require(threads >= 0 && threads <= 1024, "threads must be in [1, 1024] (0: the default), got \(threads)")
        try require(!Threads.isForkedChild || threads <= 1, Threads.forkedChildMessage(asked: Int(threads)))
        h.threads = threads == 0 ? Threads.initial : Int(threads)
    }
}
