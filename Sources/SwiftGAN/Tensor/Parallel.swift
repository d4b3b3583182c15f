import Dispatch

// MARK: - Parallel loops outside BLAS

/// Number of worker chunks used by element-wise and data-movement loops.
let parallelWidth = max(1, min(System.activeProcessorCount, 8))

enum System {
    static var activeProcessorCount: Int {
        let n = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        return n > 0 ? n : 1
    }
}

/// Work (elements × cost) below which a loop runs on the calling thread: waking workers costs
/// more than it saves under about 10⁵ simple element operations.
let parallelThreshold = 1 << 17

/// Runs `body(range)` over `0..<count` split into contiguous chunks on all cores,
/// or inline when the work (`count * costPerItem`) is too small to share.
@inline(__always)
func parallelChunks(_ count: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
    let work = count * costPerItem
    if parallelWidth == 1 || work < parallelThreshold || count < 2 {
        if count > 0 { body(0..<count) }
        return
    }
    let chunks = min(parallelWidth, count)
    DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
        let start = count * chunk / chunks
        let end = count * (chunk + 1) / chunks
        if start < end { body(start..<end) }
    }
}

import Glibc
