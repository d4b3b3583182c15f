import Glibc

// MARK: - Buffer pool

/// A process-wide cache of float buffers keyed by element count.
///
/// A training step allocates the same intermediate sizes every iteration; the
/// pool hands them back instead of calling `malloc` (and faulting fresh pages)
/// for every op. Buffers are returned uninitialised.
final class BufferPool: @unchecked Sendable {
    static let shared = BufferPool()

    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var cachedElements = 0
    private var mutex = pthread_mutex_t()
    /// Upper bound on cached floats (1 GiB); beyond it returned buffers are freed.
    private let maxCachedElements = 1 << 28

    private init() { pthread_mutex_init(&mutex, nil) }

    func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        pthread_mutex_lock(&mutex)
        if var list = free[count], let p = list.popLast() {
            free[count] = list
            cachedElements -= count
            pthread_mutex_unlock(&mutex)
            return p
        }
        pthread_mutex_unlock(&mutex)
        // 64-byte alignment suits AVX-512 loads.
        var raw: UnsafeMutableRawPointer?
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            fatalError("SwiftGAN: out of memory allocating \(bytes) bytes")
        }
        return raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    func give(_ pointer: UnsafeMutablePointer<Float>, _ count: Int) {
        pthread_mutex_lock(&mutex)
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

// MARK: - Storage

/// A reference-counted float buffer taken from the pool and given back on release.
final class Storage {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    /// An uninitialised buffer of `count` floats.
    init(count: Int) {
        self.count = count
        self.pointer = BufferPool.shared.take(count)
    }

    deinit { BufferPool.shared.give(pointer, count) }
}
