import Glibc

// MARK: - The communicator

/// How an all-reduce combines the ranks' values, element by element.
public enum ReduceOperation: Int32, Sendable {
    case sum = 0
    case max = 1
}

/// The collectives of one training spread over `size` processes (ranks), each holding a slice of the batch.
///
/// Every rank calls the same collectives in the same order with buffers of the same size; each call returns when
/// this rank's part is done. A collective that fails (a rank died, the host's library reported an error) does not
/// throw where it is called, deep inside a forward or backward pass: it records the failure, leaves its buffer
/// unspecified, and turns every later collective into a no-op, so that the pass runs to its end without waiting
/// for peers. The training step asks `check()` before it applies anything, and throws the failure's message: no
/// rank applies an update another did not compute.
///
/// The default, `SingleProcess`, has one rank and does nothing; `ThreadGroup` runs K ranks as threads of this
/// process (the tests' way to check K ranks against one); a host (the Python package over mpi4py) supplies its
/// own through the C ABI.
public protocol Communicator: AnyObject, Sendable {
    /// This process's rank, 0 to `size` - 1. Rank 0 writes the run's files.
    var rank: Int { get }
    /// The number of ranks.
    var size: Int { get }
    /// `buffer` ← the element-wise `operation` of every rank's `buffer`, the same on every rank.
    func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation)
    /// `buffer` ← the element-wise `operation` of every rank's `buffer` in float64, the same on every rank.
    func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>, _ operation: ReduceOperation)
    /// `gathered` [size × local.count] ← every rank's `local`, rank 0's first.
    func allGather(_ gathered: UnsafeMutableBufferPointer<Float>, _ local: UnsafeBufferPointer<Float>)
    /// `buffer` ← rank `root`'s `buffer`.
    func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int)
    /// Returns once every rank has called it.
    func barrier()
    /// The first failure of a collective on this rank (its message names the rank and the collective), or nil.
    var failure: String? { get }
    /// Records a failure of this rank's own work (an error between collectives), so that its peers' collectives
    /// fail too instead of waiting for it, and later collectives here are no-ops.
    func abandon(_ message: String)
}

extension Communicator {
    /// Throws the recorded failure of a collective, if any.
    public func check() throws(SwiftGANError) {
        if let failure { throw SwiftGANError(failure, invalidArgument: false) }
    }

    /// The rank's share of `count` items when they are dealt in rank order: [start, start + count).
    public func slice(of count: Int) -> Range<Int> {
        precondition(count % size == 0, "\(count) items do not divide among \(size) ranks")
        let share = count / size
        return rank * share..<(rank + 1) * share
    }
}

/// One process, one rank: every collective leaves its buffer as it is.
public final class SingleProcess: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation) {}
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>, _ operation: ReduceOperation) {}
    public func allGather(_ gathered: UnsafeMutableBufferPointer<Float>, _ local: UnsafeBufferPointer<Float>) {
        precondition(gathered.count == local.count, "allGather: \(gathered.count) floats for 1 × \(local.count)")
        _ = gathered.update(fromContentsOf: local)
    }
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) {}
    public func barrier() {}
    public var failure: String? { nil }
    public func abandon(_ message: String) {}
}

// MARK: - Ranks as threads

/// K ranks that are threads of this process, for tests: `ThreadGroup.ranks(K)[r]` is rank r's communicator.
///
/// A collective publishes each rank's buffer, waits for all K, and every rank reads all K in rank order, so the
/// result is the same on every rank and the same from run to run (sums in rank order 0, 1, …, K-1). A rank that
/// abandons wakes the others: their collectives fail with its message.
public final class ThreadGroup: @unchecked Sendable {
    public let size: Int

    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var arrived = 0
    private var generation = 0
    private var abandoned: String?
    /// Each rank's published buffer for the collective under way.
    private var published: [UnsafeMutableRawPointer?]

    private init(size: Int) {
        self.size = size
        published = Array(repeating: nil, count: size)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    /// The communicators of `size` new ranks, each to be used from its own thread only; they share their group,
    /// which lives as long as any of them.
    public static func ranks(_ size: Int) -> [Rank] {
        precondition(size >= 1, "a group needs at least 1 rank")
        let group = ThreadGroup(size: size)
        return (0..<size).map { Rank(group: group, rank: $0) }
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    /// Waits until every rank has arrived (true), or until one abandons (false).
    fileprivate func wait() -> Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        if abandoned != nil { return false }
        let mine = generation
        arrived += 1
        if arrived == size {
            arrived = 0
            generation += 1
            pthread_cond_broadcast(&condition)
            return true
        }
        while generation == mine && abandoned == nil { pthread_cond_wait(&condition, &mutex) }
        return generation != mine
    }

    fileprivate func abandon(_ message: String) {
        pthread_mutex_lock(&mutex)
        if abandoned == nil { abandoned = message }
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
    }

    fileprivate var abandonment: String? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return abandoned
    }

    fileprivate func publish(_ rank: Int, _ pointer: UnsafeMutableRawPointer?) { published[rank] = pointer }
    fileprivate func buffer(of rank: Int) -> UnsafeMutableRawPointer? { published[rank] }

    /// One rank of a `ThreadGroup`.
    public final class Rank: Communicator, @unchecked Sendable {
        private let group: ThreadGroup
        public let rank: Int
        public var size: Int { group.size }
        public private(set) var failure: String?

        fileprivate init(group: ThreadGroup, rank: Int) {
            self.group = group
            self.rank = rank
        }

        /// Runs one collective: publish `pointer`, wait for all, `combine` reading the others', wait for all
        /// (so that no rank overwrites a buffer another still reads); on failure, records it.
        private func collective(_ name: String, _ pointer: UnsafeMutableRawPointer?, _ combine: () -> Void) {
            guard failure == nil else { return }
            group.publish(rank, pointer)
            guard group.wait() else { return fail(name) }
            combine()
            guard group.wait() else { return fail(name) }
        }

        private func fail(_ name: String) {
            failure = "rank \(rank) of \(size): \(name) failed: " + (group.abandonment ?? "a rank left the group")
        }

        private func reduce<T: BinaryFloatingPoint>(_ buffer: UnsafeMutableBufferPointer<T>, _ operation: ReduceOperation,
                                                   _ name: String) {
            let count = buffer.count
            let result = UnsafeMutableBufferPointer<T>.allocate(capacity: count)
            defer { result.deallocate() }
            collective(name, UnsafeMutableRawPointer(buffer.baseAddress)) {
                guard count > 0 else { return }
                let first = group.buffer(of: 0)!.assumingMemoryBound(to: T.self)
                for i in 0..<count { result[i] = first[i] }
                for r in 1..<size {
                    let other = group.buffer(of: r)!.assumingMemoryBound(to: T.self)
                    switch operation {
                    case .sum: for i in 0..<count { result[i] += other[i] }
                    case .max: for i in 0..<count { result[i] = Swift.max(result[i], other[i]) }
                    }
                }
            }
            if failure == nil { _ = buffer.update(fromContentsOf: result) }
        }

        public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation) {
            reduce(buffer, operation, "allReduce")
        }

        public func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>, _ operation: ReduceOperation) {
            reduce(buffer, operation, "allReduce")
        }

        public func allGather(_ gathered: UnsafeMutableBufferPointer<Float>, _ local: UnsafeBufferPointer<Float>) {
            precondition(gathered.count == size * local.count,
                         "allGather: \(gathered.count) floats for \(size) × \(local.count)")
            let n = local.count
            collective("allGather", UnsafeMutableRawPointer(mutating: local.baseAddress)) {
                for r in 0..<size where n > 0 {
                    let other = group.buffer(of: r)!.assumingMemoryBound(to: Float.self)
                    (gathered.baseAddress! + r * n).update(from: other, count: n)
                }
            }
        }

        public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) {
            precondition((0..<size).contains(root), "broadcast: root \(root) of \(size) ranks")
            collective("broadcast", UnsafeMutableRawPointer(buffer.baseAddress)) {
                if rank != root, buffer.count > 0 {
                    buffer.baseAddress!.update(from: group.buffer(of: root)!.assumingMemoryBound(to: Float.self),
                                               count: buffer.count)
                }
            }
        }

        public func barrier() { collective("barrier", nil) {} }

        public func abandon(_ message: String) {
            if failure == nil { failure = "rank \(rank) of \(size): \(message)" }
            group.abandon("rank \(rank): \(message)")
        }
    }
}
