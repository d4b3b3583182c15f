import Glibc

// MARK: - Buffer pool

/// A process-wide cache of float buffers keyed by capacity.
///
/// A training step allocates the same intermediate sizes every iteration; the
/// pool hands them back instead of calling `malloc` (and faulting fresh pages)
/// for every op. Buffers are returned uninitialised.
///
/// Buffers of 64 KiB and more come in power-of-two capacities, so that one freed by an op of one size
/// serves the next op of a nearby size: a cache by exact size holds, beside the peak's buffers, those of
/// the sizes that peak at other moments (the generator's and the discriminator's steps, a penalty's pass).
/// Measured on DCGAN-64×3 at batch 64: peak RSS 282 → 274 MB (RaSGAN), 303 → 297 MB (with GP). The pages
/// of a capacity beyond what is written are never touched, so they cost no memory.
package final class BufferPool: @unchecked Sendable {
    package static let shared = BufferPool()

    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var cachedElements = 0
    /// Floats handed out and not yet given back; the most the pool held at once (handed out and cached: what it
    /// takes of the address space) since `resetPeak`.
    private var liveElements = 0, peakElements = 0
    /// The most floats handed out at once since `resetPeak` (cached ones not counted).
    private var peakLiveElements = 0
    /// Floats handed out since the process started (the sum of every `take`).
    private var takenElements = 0
    private var mutex = pthread_mutex_t()
    /// Upper bound on cached floats (1 GiB); beyond it returned buffers are freed.
    private let maxCachedElements = 1 << 28

    private init() { pthread_mutex_init(&mutex, nil) }

    /// The capacity the pool gives for `count` floats.
    static func capacity(for count: Int) -> Int {
        count < 1 << 14 ? count : 1 << (Int.bitWidth - (count - 1).leadingZeroBitCount)
    }

    /// A buffer of `capacity(for: count)` floats.
    ///
    /// Every operation that can allocate much checks its need against `MemoryBudget` before its work, so that
    /// a lack of memory is an error that changes nothing; should the system still refuse (another process took
    /// the memory meanwhile), the cached buffers are freed and the allocation tried again before the process stops.
    func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        let count = Self.capacity(for: count)
        pthread_mutex_lock(&mutex)
        liveElements += count
        takenElements += count
        peakLiveElements = max(peakLiveElements, liveElements)
        if var list = free[count], let p = list.popLast() {
            free[count] = list
            cachedElements -= count
            pthread_mutex_unlock(&mutex)
            return p
        }
        peakElements = max(peakElements, liveElements + cachedElements)
        pthread_mutex_unlock(&mutex)
        // 64-byte alignment suits AVX-512 loads.
        var raw: UnsafeMutableRawPointer?
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        if posix_memalign(&raw, 64, bytes) != 0 {
            releaseCache()
            guard posix_memalign(&raw, 64, bytes) == 0 else {
                fatalError("SwiftGAN: out of memory allocating \(bytes) bytes after the check before the work passed")
            }
        }
        return raw!.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    /// Returns a buffer taken for `count` floats.
    func give(_ pointer: UnsafeMutablePointer<Float>, _ count: Int) {
        let count = Self.capacity(for: count)
        pthread_mutex_lock(&mutex)
        liveElements -= count
        if cachedElements + count <= maxCachedElements {
            free[count, default: []].append(pointer)
            cachedElements += count
            pthread_mutex_unlock(&mutex)
        } else {
            pthread_mutex_unlock(&mutex)
            Glibc.free(pointer)
        }
    }
}

package extension BufferPool {
    /// Frees every cached buffer.
    func releaseCache() {
        pthread_mutex_lock(&mutex)
        let lists = free
        free = [:]
        cachedElements = 0
        pthread_mutex_unlock(&mutex)
        for list in lists.values { list.forEach { Glibc.free($0) } }
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
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()
    /// One page no access is allowed to.
    static let inaccessible: UnsafeMutablePointer<Float> = {
        let page = mmap(nil, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
        return page.bindMemory(to: Float.self, capacity: 1)
    }()

    final class Counter { var floats = 0 }

    /// The counter of the scope this thread is in, if any.
    static var active: Counter? {
        pthread_getspecific(key).map { Unmanaged<Counter>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Whether this thread is counting (tensors' values are not there: fills and writes are skipped).
    public static var isCounting: Bool { pthread_getspecific(key) != nil }

    /// Runs `body` counting the floats its tensors would hold; returns its result and the bytes.
    public static func counting<R>(_ body: () throws(SwiftGANError) -> R) throws(SwiftGANError) -> (R, bytes: Int) {
        let counter = Counter()
        let previous = pthread_getspecific(key)
        pthread_setspecific(key, Unmanaged.passUnretained(counter).toOpaque())
        defer { pthread_setspecific(key, previous) }
        let result = try body()
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
