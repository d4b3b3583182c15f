import Glibc

// MARK: - Buffer pool

/// A process-wide cache of float buffers.
///
/// A training step allocates the same intermediate sizes every iteration; the pool hands the same memory back
/// instead of calling `malloc` (and faulting fresh pages) for every op. Buffers are returned uninitialised.
///
/// Buffers under 64 KiB are cached by exact size. Larger ones, of whole pages, are blocks of one arena: address
/// space reserved once (no memory behind it) and made usable from its bottom up as needed. A request takes the
/// lowest free block that holds it, split; a block given back merges with its free neighbours. Only when no free
/// block holds a request does the arena grow at its top (the free block there, if any, grows by the difference). So
/// a buffer freed by an op of one size serves the next op of any smaller size, what the pool holds follows the most
/// handed out at once rather than the sum of every size a step used at some moment, and, the requests of a step
/// being the same each time, the next steps cut the same blocks and fault no new page. Measured against the
/// earlier power-of-two classes (which kept every class's buffers), peak RSS over 3 steps on Zen 3: CNN-32×3 at
/// batch 64 368 → 277 MB, BEGAN-64×3 at batch 16 434 → 363 MB, ResNet-64×3 at batch 16 720 → 597 MB, EBGAN-64×3
/// 298 → 279 MB, DCGAN-64×3 275 → 276 MB; step times within the runs' noise (±4%, alternating A/B).
package final class BufferPool: @unchecked Sendable {
    package static let shared = BufferPool()

    /// Cached small buffers by size.
    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    /// A run of pages: handed out, or free (then in `freeBlocks`); its neighbours in the arena. A free block is
    /// resident unless `releaseCache` gave its pages back (then its next use faults them in again).
    private final class Block {
        let start: UnsafeMutablePointer<Float>
        var size: Int
        var isFree = false, isResident = true
        /// A region mapped on its own (the arena could not hold it): no neighbours, unmapped by `releaseCache`.
        let isLoose: Bool
        var previous: Block?, next: Block?
        init(start: UnsafeMutablePointer<Float>, size: Int, isLoose: Bool = false) {
            (self.start, self.size, self.isLoose) = (start, size, isLoose)
        }
    }
    /// The free blocks (any order), and the handed-out ones by their start.
    private var freeBlocks: [Block] = []
    private var handedOut: [UnsafeMutablePointer<Float>: Block] = [:]
    /// The reserved address space (nil when the system refused it: then every block is loose), the floats of it
    /// made usable from its start, and the block that ends there.
    private let arena: (start: UnsafeMutablePointer<Float>, elements: Int)?
    private var arenaTop = 0
    private var topBlock: Block?
    /// Floats cached: small buffers and resident free blocks.
    private var cachedElements = 0
    /// Floats handed out and not yet given back; the most the pool held at once (handed out and cached: what it
    /// takes of memory) since `resetPeak`.
    private var liveElements = 0, peakElements = 0
    /// The most floats handed out at once since `resetPeak` (cached ones not counted).
    private var peakLiveElements = 0
    /// Floats handed out since the process started (the sum of every `take`).
    private var takenElements = 0
    /// Floats of new memory since the process started: buffers allocated, pages not used before or given back.
    private var freshElements = 0
    private var mutex = pthread_mutex_t()
    /// Upper bound on cached small floats (1 GiB); beyond it returned small buffers are freed.
    private let maxCachedElements = 1 << 28

    /// A pool of its own (the tests'), reserving `arenaBytes` of address space (by default the machine's memory);
    /// the core takes from `shared`.
    init(arenaBytes: Int = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))) {
        pthread_mutex_init(&mutex, nil)
        let reserved = mmap(nil, arenaBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        arena = reserved == nil || reserved == Self.mappingFailed ? nil
            : (reserved!.bindMemory(to: Float.self, capacity: arenaBytes / 4), arenaBytes / MemoryLayout<Float>.stride)
    }

    /// A pool of the tests' gives its memory and its reservation back (the shared one lives as long as the process).
    deinit {
        releaseCacheLocked()
        for block in handedOut.values { block.previous = nil; block.next = nil }  // no cycle keeps the blocks
        if let arena { munmap(arena.start, arena.elements * MemoryLayout<Float>.stride) }
    }

    /// From this many floats (64 KiB) up, a buffer is a block of whole pages.
    static let blockElements = 1 << 14
    /// Floats per page.
    static let pageElements = Int(sysconf(Int32(_SC_PAGESIZE))) / MemoryLayout<Float>.stride
    /// `mmap`'s failure, `(void *)-1`.
    private static let mappingFailed = UnsafeMutableRawPointer(bitPattern: -1)!

    /// The capacity the pool gives for `count` floats: `count`, rounded up to whole pages from 64 KiB up.
    static func capacity(for count: Int) -> Int {
        count < blockElements ? count : (count + pageElements - 1) / pageElements * pageElements
    }

    /// A buffer of `capacity(for: count)` floats, 64-byte aligned (AVX-512 loads).
    ///
    /// Every operation that can allocate much checks its need against `MemoryBudget` before its work, so that
    /// a lack of memory is an error that changes nothing; should the system still refuse (another process took
    /// the memory meanwhile), the cached buffers are freed and the allocation tried again before the process stops.
    func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        let count = Self.capacity(for: count)
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        liveElements += count
        takenElements += count
        peakLiveElements = max(peakLiveElements, liveElements)
        if count < Self.blockElements, var list = free[count], let p = list.popLast() {
            free[count] = list
            cachedElements -= count
            return p
        }
        if count >= Self.blockElements, let p = cutBlock(count) ?? growArena(count) { return p }
        noteFresh(count)
        var p = Self.allocate(count)
        if p == nil {
            releaseCacheLocked()
            p = Self.allocate(count)
        }
        guard let p else {
            fatalError("SwiftGAN: out of memory allocating \(count * MemoryLayout<Float>.stride) bytes after the check "
                       + "before the work passed")
        }
        if count >= Self.blockElements { handedOut[p] = Block(start: p, size: count, isLoose: true) }
        return p
    }

    /// The start of `count` floats cut from the lowest free block that holds them (its rest stays free); nil
    /// when none does. (The lowest rather than the smallest: measured peak RSS over 3 steps on Zen 3, CNN-32×3 at
    /// batch 64 291 → 277 MB, ResNet-64×3 at batch 16 605 → 597 MB, BEGAN and DCGAN-64 within 1 MB, EBGAN-64
    /// 272 → 279 MB.) Called under the lock.
    private func cutBlock(_ count: Int) -> UnsafeMutablePointer<Float>? {
        var best: Int?
        for (i, block) in freeBlocks.enumerated() where block.size >= count && (best.map { block.start < freeBlocks[$0].start } ?? true) {
            best = i
        }
        guard let i = best else { return nil }
        let block = freeBlocks[i]
        if block.isResident { cachedElements -= count } else { noteFresh(count) }
        if block.size > count {
            let rest = Block(start: block.start + count, size: block.size - count, isLoose: block.isLoose)
            rest.isFree = true
            rest.isResident = block.isResident
            rest.previous = block
            rest.next = block.next
            block.next?.previous = rest
            block.next = rest
            if topBlock === block { topBlock = rest }
            block.size = count
            freeBlocks[i] = rest
        } else {
            freeBlocks.remove(at: i)
        }
        block.isFree = false
        block.isResident = true
        handedOut[block.start] = block
        return block.start
    }

    /// The start of `count` floats at the arena's top, which grows by what the free block there (if any) lacks;
    /// nil when the arena cannot hold them. Called under the lock.
    private func growArena(_ count: Int) -> UnsafeMutablePointer<Float>? {
        guard let arena else { return nil }
        let top = topBlock.flatMap { $0.isFree ? $0 : nil }
        let growth = count - (top?.size ?? 0)
        guard arenaTop + growth <= arena.elements,
              mprotect(arena.start + arenaTop, growth * MemoryLayout<Float>.stride, PROT_READ | PROT_WRITE) == 0 else {
            return nil
        }
        arenaTop += growth
        if let top {
            removeFree(top)
            if top.isResident { cachedElements -= top.size; noteFresh(growth) } else { noteFresh(count) }
            top.size = count
            top.isFree = false
            top.isResident = true
            handedOut[top.start] = top
            return top.start
        }
        noteFresh(count)
        let block = Block(start: arena.start + arenaTop - count, size: count)
        block.previous = topBlock
        topBlock?.next = block
        topBlock = block
        handedOut[block.start] = block
        return block.start
    }

    /// Counts `count` floats of new pages, and the pool's peak. Called under the lock.
    private func noteFresh(_ count: Int) {
        freshElements += count
        peakElements = max(peakElements, liveElements + cachedElements)
    }

    /// Returns a buffer taken for `count` floats.
    func give(_ pointer: UnsafeMutablePointer<Float>, _ count: Int) {
        let count = Self.capacity(for: count)
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        liveElements -= count
        if count >= Self.blockElements {
            giveBlock(handedOut.removeValue(forKey: pointer)!)
        } else if cachedElements + count <= maxCachedElements {
            free[count, default: []].append(pointer)
            cachedElements += count
        } else {
            Glibc.free(pointer)
        }
    }

    /// Frees `block`, merged with its free neighbours. Called under the lock.
    private func giveBlock(_ block: Block) {
        block.isFree = true
        block.isResident = true
        cachedElements += block.size
        var merged = block
        if let next = merged.next, next.isFree { merged = merge(merged, next) }
        if let previous = merged.previous, previous.isFree { merged = merge(previous, merged) }
        freeBlocks.append(merged)
    }

    /// Two free neighbours as one (not in `freeBlocks`). When one's pages were given back, the other's are too,
    /// so that a block is wholly resident or not at all. Called under the lock.
    private func merge(_ first: Block, _ second: Block) -> Block {
        if first.isResident != second.isResident {
            let resident = first.isResident ? first : second
            madvise(resident.start, resident.size * MemoryLayout<Float>.stride, MADV_DONTNEED)
            cachedElements -= resident.size
            resident.isResident = false
        }
        freeBlocks.removeAll { $0 === first || $0 === second }
        first.size += second.size
        first.next = second.next
        second.next?.previous = first
        if topBlock === second { topBlock = first }
        return first
    }

    /// Removes `block` from the free blocks.
    private func removeFree(_ block: Block) {
        freeBlocks.remove(at: freeBlocks.firstIndex { $0 === block }!)
    }

    /// New memory for `capacity` floats (a capacity `capacity(for:)` gave): a region of its own from 64 KiB up
    /// (when the arena cannot hold it); nil when the system refuses it.
    private static func allocate(_ capacity: Int) -> UnsafeMutablePointer<Float>? {
        let bytes = max(capacity, 1) * MemoryLayout<Float>.stride
        if capacity >= blockElements {
            let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            return p == nil || p == mappingFailed ? nil : p!.bindMemory(to: Float.self, capacity: capacity)
        }
        var raw: UnsafeMutableRawPointer?
        return posix_memalign(&raw, 64, bytes) == 0 ? raw!.bindMemory(to: Float.self, capacity: max(capacity, 1)) : nil
    }

    /// Frees the cached small buffers and gives the free blocks' pages back to the system: the arena shrinks by
    /// the free block at its top, loose regions are unmapped, and the other free blocks stay (address space only).
    /// Called under the lock.
    fileprivate func releaseCacheLocked() {
        for list in free.values { list.forEach { Glibc.free($0) } }
        free = [:]
        let stride = MemoryLayout<Float>.stride
        freeBlocks.removeAll { block in
            if block.isLoose {
                // A piece of a split region: its handed-out neighbours must not merge with it once it is unmapped.
                munmap(block.start, block.size * stride)
                block.previous?.next = block.next
                block.next?.previous = block.previous
            } else if block === topBlock {
                // Back to reserved address space: no pages, nothing committed.
                _ = mmap(block.start, block.size * stride, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0)
                arenaTop -= block.size
                topBlock = block.previous
                block.previous?.next = nil
            } else {
                if block.isResident { madvise(block.start, block.size * stride, MADV_DONTNEED) }
                block.isResident = false
                return false
            }
            return true
        }
        cachedElements = 0
    }
}

package extension BufferPool {
    /// Frees every cached buffer: the small ones, and the free blocks' pages, which go back to the system.
    func releaseCache() {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        releaseCacheLocked()
    }

    /// Bytes cached for reuse (available to the next allocations without asking the system).
    var cachedBytes: Int { bytes(of: \.cachedElements) }

    /// A count of floats read under the lock, in bytes.
    private func bytes(of elements: KeyPath<BufferPool, Int>) -> Int {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return self[keyPath: elements] * MemoryLayout<Float>.stride
    }

    /// Starts a new peak from what the pool holds now; returns the bytes handed out now.
    func resetPeak() -> Int {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        peakElements = liveElements + cachedElements
        peakLiveElements = liveElements
        return liveElements * MemoryLayout<Float>.stride
    }

    /// The most bytes handed out at once (not counting the cache) since `resetPeak` (all threads').
    var peakLiveBytes: Int { bytes(of: \.peakLiveElements) }

    /// The bytes handed out now (all threads').
    var liveBytes: Int { bytes(of: \.liveElements) }

    /// The bytes handed out since the process started (all threads').
    var takenBytes: Int { bytes(of: \.takenElements) }

    /// The bytes of new memory since the process started (all threads'): buffers allocated and regions mapped,
    /// whose pages are faulted in when first written. A step that reuses the pool's memory adds none.
    var freshBytes: Int { bytes(of: \.freshElements) }

    /// The bytes of address space the pool reserved and does not use yet (in the process's size, not its memory).
    var reservedBytes: Int {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return ((arena?.elements ?? 0) - arenaTop) * MemoryLayout<Float>.stride
    }

    /// The most bytes the pool held at once, handed out or cached, since `resetPeak` (all threads').
    var peakBytes: Int { bytes(of: \.peakElements) }
}

// MARK: - Memory budget

/// What the process can still allocate, and the check every operation that allocates much makes before its
/// work: a lack of memory is a `SwiftGANError` of kind `.outOfMemory` that changes nothing, never a crash.
public enum MemoryBudget {
    /// The bytes this process can still get: the least of the system's available memory (MemAvailable +
    /// SwapFree), the address-space and data limits (RLIMIT_AS, RLIMIT_DATA) less what is mapped, and the
    /// cgroup's memory.max less its memory.current. (The buffer pool's cache is not counted: `require` frees it
    /// when that makes the difference.)
    public static func available() -> Int {
        var bounds: [Int] = []
        let meminfo = keyValues("/proc/meminfo")
        if let free = meminfo["MemAvailable"] { bounds.append((free + (meminfo["SwapFree"] ?? 0)) * 1024) }
        let status = keyValues("/proc/self/status")
        for (resourceKind, used) in [(RLIMIT_AS, "VmSize"), (RLIMIT_DATA, "VmData")] {
            var limit = rlimit()
            if getrlimit(__rlimit_resource_t(resourceKind.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max,
               let mapped = status[used] {
                // The buffer pool's arena, reserved when the pool was first used, is in VmSize already: it grows
                // within the limit, and what is left below the limit bounds every other mapping.
                bounds.append(max(0, Int(clamping: limit.rlim_cur) - mapped * 1024))
            }
        }
        if let group = readText("/proc/self/cgroup")?.split(separator: "\n").first(where: { $0.hasPrefix("0::") }) {
            let folder = "/sys/fs/cgroup" + group.dropFirst(3)
            if let most = readText(folder + "/memory.max").flatMap({ Int($0.trimmingWhitespace) }),
               let current = readText(folder + "/memory.current").flatMap({ Int($0.trimmingWhitespace) }) {
                bounds.append(max(0, most - current))
            }
        }
        return bounds.min() ?? Int.max / 2
    }

    /// What every check keeps free beyond its need, for the allocations the libraries make on their own during the
    /// work (oneDNN's generated kernels, which stop the process when they cannot get memory; OpenBLAS's buffers;
    /// the core's small arrays).
    public static let headroom = 96 << 20

    /// Refuses `what` when it needs more than `available()` bytes less `headroom`, after freeing the buffer pool's
    /// cache if that would make room.
    public static func require(_ bytes: Int, for what: @autoclosure () -> String) throws(SwiftGANError) {
        var usable = available() - headroom
        if bytes > usable && BufferPool.shared.cachedBytes > 0 {
            BufferPool.shared.releaseCache()
            usable = available() - headroom
        }
        if bytes > usable {
            throw SwiftGANError("out of memory: \(what()) needs \(format(bytes)), \(format(max(usable, 0))) are available "
                                + "(beyond \(format(headroom)) kept for the libraries' own allocations)", kind: .outOfMemory)
        }
    }

    /// The bytes a tensor of `count` floats takes from the pool (its capacity, `BufferPool.capacity(for:)`).
    public static func bytes(ofTensor count: Int) -> Int { BufferPool.capacity(for: count) * MemoryLayout<Float>.stride }

    /// `bytes` for a person: "34.4 GB".
    public static func format(_ bytes: Int) -> String {
        for (unit, size) in [("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)] where bytes >= size {
            let tenths = Int((Double(bytes) / Double(size) * 10).rounded())
            return "\(tenths / 10).\(tenths % 10) \(unit)"
        }
        return "\(bytes) bytes"
    }

    private static func readText(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var text = [UInt8](), chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n <= 0 { break }
            text += chunk[0..<n]
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// `Key:   value kB` lines as [key: value].
    private static func keyValues(_ path: String) -> [String: Int] {
        var found: [String: Int] = [:]
        for line in readText(path)?.split(separator: "\n") ?? [] {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, let value = parts[1].split(whereSeparator: \.isWhitespace).first.flatMap({ Int($0) }) {
                found[String(parts[0])] = value
            }
        }
        return found
    }
}

private extension StringProtocol {
    var trimmingWhitespace: String { String(self.filter { !$0.isWhitespace }) }
}

// MARK: - Counting what a construction allocates

/// A scope in which tensors get no memory: their bytes are counted, and nothing may read or write them (their
/// storage is one inaccessible page, so a stray access stops at once instead of touching other memory). Building
/// the networks inside it tells what building them for real will allocate, before anything is allocated.
public enum AllocationCount {
    private static let scope = ThreadScope<Counter>()
    /// One page no access is allowed to.
    static let inaccessible: UnsafeMutablePointer<Float> = {
        let page = mmap(nil, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
        return page.bindMemory(to: Float.self, capacity: 1)
    }()

    final class Counter { var floats = 0 }

    /// The counter of the scope this thread is in, if any.
    static var active: Counter? { scope.current }

    /// Whether this thread is counting (tensors' values are not there: fills and writes are skipped).
    public static var isCounting: Bool { scope.current != nil }

    /// Runs `body` counting the floats its tensors would hold; returns its result and the bytes.
    public static func counting<R>(_ body: () throws(SwiftGANError) -> R) throws(SwiftGANError) -> (R, bytes: Int) {
        let counter = Counter()
        let result = try scope.with(counter, body)
        return (result, counter.floats * MemoryLayout<Float>.stride)
    }
}

// MARK: - Storage

/// A reference-counted float buffer taken from the pool and given back on release.
package final class Storage {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    /// Made while counting (`AllocationCount`): no memory behind it.
    private let counted: Bool

    /// An uninitialised buffer of `count` floats.
    init(count: Int) {
        self.count = count
        if let counter = AllocationCount.active {
            counter.floats += count
            counted = true
            pointer = AllocationCount.inaccessible
        } else {
            counted = false
            pointer = BufferPool.shared.take(count)
        }
    }

    deinit { if !counted { BufferPool.shared.give(pointer, count) } }

    /// The storage of a tensor whose values were dropped (`Tensor.dropValues`).
    static let placeholder = Storage(count: 0)
}
