import Glibc
import XCTest
@testable import SwiftGANTensor

/// Runs `body(rank)` on `size` threads at once, one per rank of a fresh `ThreadGroup`, and returns when all end.
func runRanks(_ size: Int, _ body: @escaping @Sendable (any Communicator) -> Void) {
    let group = ThreadGroup(size: size)
    final class Job { let run: () -> Void; init(_ run: @escaping () -> Void) { self.run = run } }
    var threads: [pthread_t] = []
    for rank in group.ranks {
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
    withExtendedLifetime(group) {}
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
