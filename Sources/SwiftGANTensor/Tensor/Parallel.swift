import COpenMP
import Glibc

// MARK: - The one thread pool

/// The threads of the core: GNU OpenMP's team, shared by oneDNN's convolutions, OpenBLAS (its
/// OpenMP build) and the core's own parallel loops, so that no two thread pools spin and yield
/// against each other on the same cores.
///
/// The count is OpenMP's `nthreads` setting of the calling thread (`OMP_NUM_THREADS`, default: the
/// cores available); oneDNN and OpenBLAS read the same setting at every call.
public enum Threads {
    /// Threads used by parallel work started from the calling thread.
    public static var count: Int { Int(omp_get_max_threads()) }

    /// The cores available to this process.
    public static var available: Int { max(1, Int(omp_get_num_procs())) }

    /// The default thread count: `OMP_NUM_THREADS` when the environment sets it, else the cores available
    /// (OpenMP's initial setting, read once).
    public static let initial = max(1, Int(omp_get_max_threads()))

    /// Uses `count` threads (at least 1; 1 in a fork child, see `isForkedChild`) for parallel work started from
    /// the calling thread.
    public static func use(_ count: Int) {
        _ = forkWatch
        let n = Int32(clamping: isForkedChild ? 1 : max(1, count))
        if n > 1 { teamStarted = true }
        if omp_get_max_threads() != n { omp_set_num_threads(n) }
    }

    /// Whether this process is a fork of one whose OpenMP team had started. Only the forking thread survives a
    /// fork, and GNU OpenMP would wait for the team's other threads forever; so a fork child computes on one
    /// thread (`effective` reports it), which works, instead of hanging.
    public private(set) static var isForkedChild = false
    nonisolated(unsafe) private static var teamStarted = false
    private static let forkWatch: Void = {
        pthread_atfork(nil, nil) { if Threads.teamStarted { Threads.isForkedChild = true } }
    }()

    /// Why a fork child cannot use `asked` threads.
    public static func forkedChildMessage(asked: Int) -> String {
        "threads: this process was forked after SwiftGAN's thread pool had started, and a thread pool does not survive "
            + "a fork: it computes on 1 thread, not \(asked) (start worker processes with multiprocessing's 'spawn' or "
            + "'forkserver' method to use more)"
    }

    /// The thread count a caller asked for (`0`: the default, `initial`), checked: 1 to 1024, and at most 1 in a fork
    /// child. The one check of a thread count; every handle kind's setting goes through it.
    public static func setting(_ asked: Int) throws(SwiftGANError) -> Int {
        guard asked >= 0 && asked <= 1024 else {
            throw SwiftGANError("threads must be in [1, 1024] (0 or None: the default), got \(asked)")
        }
        guard !isForkedChild || asked <= 1 else { throw SwiftGANError(forkedChildMessage(asked: asked)) }
        return asked == 0 ? initial : asked
    }

    /// The threads a handle set to `count` really uses: `count`, or 1 in a fork child.
    public static func effective(_ count: Int) -> Int { isForkedChild ? 1 : count }
}

// MARK: - Parallel loops

/// Work (elements × cost) below which a loop runs on the calling thread: waking workers costs
/// more than it saves under about 10⁵ simple element operations.
let parallelThreshold = 1 << 17

/// A loop body and its iteration count, handed to the OpenMP team through a raw pointer.
private struct ParallelLoop {
    let iterations: Int
    let body: (Int) -> Void
}

/// Runs on every thread of the team: thread t of T takes iterations [n·t/T, n·(t+1)/T).
private let runTeamShare: @convention(c) (UnsafeMutableRawPointer?) -> Void = { raw in
    let loop = raw!.assumingMemoryBound(to: ParallelLoop.self)
    let t = Int(omp_get_thread_num()), team = Int(omp_get_num_threads())
    let n = loop.pointee.iterations
    for i in (n * t / team)..<(n * (t + 1) / team) { loop.pointee.body(i) }
}

/// Runs `body(i)` for `i` in `0..<iterations` on the OpenMP team (at most `Threads.count` threads),
/// each thread taking a contiguous share; returns when all are done.
package func parallelFor(_ iterations: Int, _ body: (Int) -> Void) {
    if iterations <= 1 {
        if iterations == 1 { body(0) }
        return
    }
    withoutActuallyEscaping(body) { body in
        var loop = ParallelLoop(iterations: iterations, body: body)
        withUnsafeMutablePointer(to: &loop) { pointer in
            GOMP_parallel(runTeamShare, pointer, UInt32(min(iterations, Threads.count)), 0)
        }
    }
}

/// The number of chunks a loop over `count` items of `costPerItem` is split into: one per thread,
/// or 1 when the work (`count * costPerItem`) is too small to share.
@inline(__always)
package func parallelChunkCount(_ count: Int, costPerItem: Int = 1) -> Int {
    count * costPerItem < parallelThreshold || count < 2 ? 1 : min(Threads.count, count)
}

/// Runs `body(range)` over `0..<count` split into contiguous chunks on the thread pool,
/// or inline when the work (`count * costPerItem`) is too small to share.
@inline(__always)
package func parallelChunks(_ count: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
    let chunks = parallelChunkCount(count, costPerItem: costPerItem)
    if chunks == 1 {
        if count > 0 { body(0..<count) }
        return
    }
    parallelFor(chunks) { chunk in
        let start = count * chunk / chunks, end = count * (chunk + 1) / chunks
        if start < end { body(start..<end) }
    }
}
