import CSwiftGAN
import SwiftGAN

// The host's communicator (sg_communicator, swiftgan.h) as the core's `Communicator`, and sg_gan_set_communicator.

/// A communicator whose collectives are the host's functions (the Python package's over mpi4py). A failed call
/// is recorded and turns later collectives into no-ops, as the protocol asks; the step then refuses.
final class HostCommunicator: Communicator, @unchecked Sendable {
    private let host: sg_communicator
    let rank: Int, size: Int
    private(set) var failure: String?

    init(_ host: sg_communicator) {
        self.host = host
        rank = Int(host.rank)
        size = Int(host.size)
    }

    deinit { host.release?(host.context) }

    /// Runs the host's collective `name` unless one failed already; records its failure.
    private func run(_ name: String, _ body: () -> Int32) {
        guard failure == nil else { return }
        let status = body()
        if status != 0 {
            failure = "rank \(rank) of \(size): the host's \(name) failed (status \(status)); another rank may have "
                + "failed or left"
        }
    }

    func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation) {
        run("all_reduce_f32") { host.all_reduce_f32!(host.context, buffer.baseAddress, Int64(buffer.count), operation.rawValue) }
    }

    func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>, _ operation: ReduceOperation) {
        run("all_reduce_f64") { host.all_reduce_f64!(host.context, buffer.baseAddress, Int64(buffer.count), operation.rawValue) }
    }

    func allGather(_ gathered: UnsafeMutableBufferPointer<Float>, _ local: UnsafeBufferPointer<Float>) {
        precondition(gathered.count == size * local.count, "allGather: \(gathered.count) floats for \(size) × \(local.count)")
        run("all_gather_f32") { host.all_gather_f32!(host.context, gathered.baseAddress, local.baseAddress, Int64(local.count)) }
    }

    func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) {
        run("broadcast_f32") { host.broadcast_f32!(host.context, buffer.baseAddress, Int64(buffer.count), Int32(root)) }
    }

    func barrier() { run("barrier") { host.barrier!(host.context) } }

    func abandon(_ message: String) {
        if failure == nil { failure = "rank \(rank) of \(size): \(message)" }
        message.withCString { host.abandon!(host.context, $0) }
    }
}

@_cdecl("sg_gan_set_communicator")
public func sg_gan_set_communicator(_ gan: OpaquePointer?, _ communicator: UnsafePointer<sg_communicator>?) -> Int32 {
    call(gan, as: GANHandle.self) { (h) throws(SwiftGANError) in
        guard let host = communicator?.pointee else {
            h.trainer.setCommunicator(SingleProcess())
            return
        }
        guard host.size >= 1, (0..<host.size).contains(host.rank) else {
            throw SwiftGANError("communicator: rank must be in [0, size) and size at least 1, got rank \(host.rank) of \(host.size)")
        }
        let missing = [("all_reduce_f32", host.all_reduce_f32 == nil), ("all_reduce_f64", host.all_reduce_f64 == nil),
                       ("all_gather_f32", host.all_gather_f32 == nil), ("broadcast_f32", host.broadcast_f32 == nil),
                       ("barrier", host.barrier == nil), ("abandon", host.abandon == nil)].filter(\.1).map(\.0)
        guard missing.isEmpty else {
            throw SwiftGANError("communicator: missing function\(missing.count > 1 ? "s" : "") \(missing.joined(separator: ", "))")
        }
        h.trainer.setCommunicator(HostCommunicator(host))
    }
}
