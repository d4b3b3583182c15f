import CSwiftGAN
import Glibc
import SwiftGAN

// The feature networks' part of the C ABI (swiftgan.h, "Feature networks"): the handle kind "features"; its
// lifetime, configuration, threads and tensors go through the calls every kind shares (Handles.swift).

/// What an `sg_handle*` of kind "features" stands for: a feature network with its trainer, or Inception-v3.
final class FeatureHandle: Handle {
    let trainer: FeatureExtractor
    private var state: [HandleTensor] = []

    init(trainer: FeatureExtractor) {
        self.trainer = trainer
        super.init()
        state = trainer.namedState.map { name, t in HandleTensor(name: cString(name), shape: t.shape) { t } }
    }

    override class var kind: String { "features" }
    override class var description: String { "feature network" }
    override class var creator: String { "sg_features_create" }

    override var configText: String { trainer.config.text + "features=\(trainer.featureCount)\n" }

    override func tensors(_ which: Int32) throws(SwiftGANError) -> [HandleTensor] {
        guard which == tensorsModel || which == tensorsFull else {
            throw unknownSet(which, kind: "feature network", sets: "SG_TENSORS_MODEL (0) or SG_TENSORS_FULL (1)")
        }
        return state
    }
}

private func call(_ handle: OpaquePointer?, _ body: (FeatureHandle) throws(SwiftGANError) -> Void) -> Int32 {
    call(handle, as: FeatureHandle.self, body)
}

@_cdecl("sg_features_create")
public func sg_features_create(_ config: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    create(out) { () throws(SwiftGANError) in
        FeatureHandle(trainer: try makeFeatureExtractor(try FeatureConfig(text: config.map { String(cString: $0) } ?? "")))
    }
}

@_cdecl("sg_features_options")
public func sg_features_options(_ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int64,
                                _ needed: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded { () throws(SwiftGANError) in try writeText(FeatureConfig.table, buffer, capacity, needed) }
}

@_cdecl("sg_features_train_step")
public func sg_features_train_step(_ handle: OpaquePointer?, _ images: UnsafePointer<sg_array>?,
                                   _ labels: UnsafePointer<Int32>?, _ labelCount: Int64,
                                   _ stats: UnsafeMutablePointer<Double>?) -> Int32 {
    call(handle) { (h) throws(SwiftGANError) in
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
    call(handle) { (h) throws(SwiftGANError) in
        try require(images != nil, "images is NULL")
        guard let x = try tensor(images!.pointee, "images") else { throw SwiftGANError("images: values is NULL") }
        try h.trainer.evaluate(x, logits: logits != 0, into: try output(out, outCount))
    }
}
