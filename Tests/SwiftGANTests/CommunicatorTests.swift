import Glibc
import XCTest
@testable import SwiftGANAutodiff
@testable import SwiftGANTensor

/// Runs `body(rank)` on `size` threads at once, one per rank of a fresh `ThreadGroup`, and returns when all end.
func runRanks(_ size: Int, _ body: @escaping @Sendable (any Communicator) -> Void) {
    final class Job { let run: () -> Void; init(_ run: @escaping () -> Void) { self.run = run } }
    var threads: [pthread_t] = []
    for rank in ThreadGroup.ranks(size) {
        let job = Unmanaged.passRetained(Job { body(rank) }).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { raw in
            let job = Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue()
            job.run()
            return nil
        }, job)
        precondition(status == 0, "pthread_create failed: \(status)")
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
}

/// Per-rank results of a `runRanks` body, written by each rank into its own slot.
final class PerRank<T>: @unchecked Sendable {
    var values: [T?]
    init(_ size: Int) { values = Array(repeating: nil, count: size) }
}

final class CommunicatorTests: XCTestCase {
    func testAllReduceSumsAndMaximaInRankOrderEqualOnEveryRank() {
        // 3 ranks, values that differ by rank and position; a sum of floats whose order matters (1e8 + 1 - 1e8).
        let size = 3, count = 1000
        let sums = PerRank<[Float]>(size), maxima = PerRank<[Double]>(size), failures = PerRank<String>(size)
        runRanks(size) { comm in
            var local = (0..<count).map { Float(($0 * 7 + comm.rank * 13) % 101 - 50) }
            let first: [Float] = [1e8, 1, -1e8]
            local[0] = first[comm.rank]
            local.withUnsafeMutableBufferPointer { comm.allReduce($0, .sum) }
            sums.values[comm.rank] = local
            var wide = (0..<count).map { Double(($0 * 3 + comm.rank * 5) % 17 - comm.rank) }
            wide.withUnsafeMutableBufferPointer { comm.allReduce($0, .max) }
            maxima.values[comm.rank] = wide
            failures.values[comm.rank] = comm.failure ?? ""
        }
        XCTAssertEqual(failures.values, ["", "", ""])
        for i in 0..<count {
            var expected: Float = 0
            for r in 0..<size {
                let first: [Float] = [1e8, 1, -1e8]
                expected += i == 0 ? first[r] : Float((i * 7 + r * 13) % 101 - 50)
            }
            var expectedMax = -Double.infinity
            for r in 0..<size { expectedMax = max(expectedMax, Double((i * 3 + r * 5) % 17 - r)) }
            for r in 0..<size {
                XCTAssertEqual(sums.values[r]![i], expected, "sum, rank \(r), element \(i)")
                XCTAssertEqual(maxima.values[r]![i], expectedMax, "max, rank \(r), element \(i)")
            }
        }
        XCTAssertEqual(sums.values[0]![0], 0, "(1e8 + 1) - 1e8 in float32, summed in rank order")
    }

    func testAllGatherPlacesEachRanksSliceInRankOrderAndBroadcastCopiesTheRoot() {
        let size = 4, count = 5
        let gathered = PerRank<[Float]>(size), broadcast = PerRank<[Float]>(size), failures = PerRank<String>(size)
        runRanks(size) { comm in
            let local = (0..<count).map { Float(comm.rank * 100 + $0) }
            var all = [Float](repeating: -1, count: size * count)
            all.withUnsafeMutableBufferPointer { out in local.withUnsafeBufferPointer { comm.allGather(out, $0) } }
            gathered.values[comm.rank] = all
            var mine = (0..<count).map { Float(comm.rank * 10 + $0) }
            mine.withUnsafeMutableBufferPointer { comm.broadcast($0, root: 2) }
            broadcast.values[comm.rank] = mine
            comm.barrier()
            failures.values[comm.rank] = comm.failure ?? ""
        }
        XCTAssertEqual(failures.values, ["", "", "", ""])
        let expected = (0..<size).flatMap { r in (0..<count).map { Float(r * 100 + $0) } }
        for r in 0..<size {
            XCTAssertEqual(gathered.values[r]!, expected, "allGather on rank \(r)")
            XCTAssertEqual(broadcast.values[r]!, (0..<count).map { Float(20 + $0) }, "broadcast on rank \(r)")
        }
    }

    func testARankThatAbandonsEndsItsPeersCollectivesWithItsMessage() {
        // Rank 1 fails between collectives; rank 0, already waiting in an all-reduce, must not wait forever: its
        // all-reduce fails, later collectives are no-ops, and check() throws an engine error naming rank 1's failure.
        let errors = PerRank<SwiftGANError>(2)
        runRanks(2) { comm in
            var buffer: [Float] = [1, 2, 3]
            if comm.rank == 1 {
                comm.abandon("could not read batch 7: disk full")
            } else {
                buffer.withUnsafeMutableBufferPointer { comm.allReduce($0, .sum) }
                comm.barrier()
            }
            do throws(SwiftGANError) {
                try comm.check()
            } catch {
                errors.values[comm.rank] = error
            }
        }
        let peer = try! XCTUnwrap(errors.values[0])
        XCTAssertEqual(peer.kind, .engine)
        XCTAssertEqual(peer.message, "rank 0 of 2: allReduce failed: rank 1: could not read batch 7: disk full")
        XCTAssertEqual(errors.values[1]?.message, "rank 1 of 2: could not read batch 7: disk full")
    }

    func testOneProcessLeavesBuffersAsTheyAreAndSlicesTheWholeBatch() throws {
        let comm = SingleProcess()
        var buffer: [Float] = [1, -2, 3]
        buffer.withUnsafeMutableBufferPointer { comm.allReduce($0, .sum) }
        XCTAssertEqual(buffer, [1, -2, 3])
        var gathered = [Float](repeating: 0, count: 3)
        gathered.withUnsafeMutableBufferPointer { out in buffer.withUnsafeBufferPointer { comm.allGather(out, $0) } }
        XCTAssertEqual(gathered, buffer)
        XCTAssertEqual(comm.slice(of: 16), 0..<16)
        try comm.check()
        let slices = PerRank<Range<Int>>(2)
        runRanks(2) { slices.values[$0.rank] = $0.slice(of: 16) }
        XCTAssertEqual(slices.values.map { $0! }, [0..<8, 8..<16])
    }
}

final class SyncBatchNormTests: XCTestCase {
    /// The whole batch [8, 3, 4, 4], γ, β, the loss weights, and a leaky slope, from fixed seeds.
    static let shape = [8, 3, 4, 4], slope: Float = 0.2

    /// A rank's results: y, ∂L/∂x, ∂L/∂γ, ∂L/∂β, then ∂P/∂γ and ∂P/∂x for the penalty P = Σ (∂L/∂x)², then the
    /// running mean and variance; on `ranks` ranks each holding 8/ranks samples, L = Σ w·y over its slice.
    static func step(rank: Int, ranks: Int, communicator: any Communicator, synchronised: Bool = true) -> [[Float]] {
        let whole = randomTensor(shape, seed: 11), weights = randomTensor(shape, seed: 12)
        let per = whole.count / ranks, n = shape[0] / ranks
        let x = Tensor(copying: whole.pointer + rank * per, shape: [n] + shape.dropFirst())
        let w = Tensor(copying: weights.pointer + rank * per, shape: x.shape)
        let gamma = randomTensor([3], seed: 13, low: 0.5, high: 1.5), beta = randomTensor([3], seed: 14)
        for t in [x, gamma, beta] { t.requiresGrad = true }
        let runningMean = Tensor.zeros([3]), runningVar = Tensor.ones([3])
        let y = !synchronised
            ? batchNorm2dTraining(x, gamma: gamma, beta: beta, runningMean: runningMean, runningVar: runningVar,
                                  slope: slope)
            : syncBatchNorm2dTraining(x, gamma: gamma, beta: beta, runningMean: runningMean, runningVar: runningVar,
                                      over: communicator, slope: slope)
        let loss = (y * w).sum()
        let first = gradients(of: loss, wrt: [x, gamma, beta], createGraph: true)
        let penalty = square(first[0]).sum()
        let second = gradients(of: penalty, wrt: [gamma, x])
        return [y.scalars, first[0].scalars, first[1].scalars, first[2].scalars, second[0].scalars, second[1].scalars,
                runningMean.scalars, runningVar.scalars]
    }

    func testTwoRanksOfFourSamplesEqualOneBatchOfEightToSecondOrder() {
        // One process, the fused batch norm of the whole batch: the reference.
        let reference = Self.step(rank: 0, ranks: 1, communicator: SingleProcess(), synchronised: false)
        let results = PerRank<[[Float]]>(2)
        runRanks(2) { comm in results.values[comm.rank] = Self.step(rank: comm.rank, ranks: 2, communicator: comm) }
        let names = ["y", "dL/dx", "dL/dgamma", "dL/dbeta", "dP/dgamma", "dP/dx", "running mean", "running var"]
        let sliced: Set = [0, 1, 5]  // per-sample values: each rank holds its half; the others are per channel
        let summed: Set = [2, 3, 4]  // parameter gradients: the ranks' sum (the trainer's gradient all-reduce)
        for (k, name) in names.enumerated() {
            let ours: [Float]
            if sliced.contains(k) {
                ours = results.values[0]![k] + results.values[1]![k]
            } else if summed.contains(k) {
                ours = zip(results.values[0]![k], results.values[1]![k]).map { $0 + $1 }
            } else {
                XCTAssertEqual(results.values[0]![k], results.values[1]![k], "\(name): equal on both ranks")
                ours = results.values[0]![k]
            }
            // Float32 sums of 128 terms per channel in another order: errors of order 128 · 2⁻²⁴ ≈ 1e-5 of the
            // largest magnitude, a further factor 10 through the second-order chain.
            let scale = reference[k].map { Swift.abs($0) }.max()!
            let worst = zip(ours, reference[k]).map { Swift.abs($0 - $1) }.max()!
            XCTAssertEqual(ours.count, reference[k].count, name)
            XCTAssertLessThanOrEqual(worst, 1e-4 * scale, "\(name): worst difference \(worst) of scale \(scale)")
        }
    }

    func testOnOneRankItEqualsTheFusedBatchNorm() {
        // The op-by-op form on one rank (no collective) against the fused kernels of batchNorm2dTraining.
        let fused = Self.step(rank: 0, ranks: 1, communicator: SingleProcess(), synchronised: false)
        let ours = Self.step(rank: 0, ranks: 1, communicator: SingleProcess())
        for k in fused.indices {
            let scale = fused[k].map { Swift.abs($0) }.max()!
            let worst = zip(ours[k], fused[k]).map { Swift.abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(worst, 1e-4 * scale, "result \(k): worst difference \(worst) of scale \(scale)")
        }
    }
}
