import Glibc

// MARK: - Thread-scoped values

/// An object a thread makes current for the length of a call (`with`), read by whatever that call runs on the
/// same thread (`current`). The core's scopes are per thread, so that ranks run as threads (`ThreadGroup`) never
/// see each other's.
package final class ThreadScope<Value: AnyObject>: @unchecked Sendable {
    private let key: pthread_key_t

    package init() {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        self.key = key
    }

    /// The value of the innermost `with` on this thread, if any.
    @inline(__always) package var current: Value? {
        pthread_getspecific(key).map { Unmanaged<Value>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Runs `body` with `value` current on this thread (nil: none); the earlier value is current again after.
    package func with<R, E: Error>(_ value: Value?, _ body: () throws(E) -> R) throws(E) -> R {
        let previous = pthread_getspecific(key)
        pthread_setspecific(key, value.map { Unmanaged.passUnretained($0).toOpaque() })
        defer { pthread_setspecific(key, previous) }
        return try withExtendedLifetime(value) { () throws(E) -> R in try body() }
    }

    /// Makes `value` current on this thread until the next `set` (nil: none), for a caller that cannot pass a
    /// closure (the C ABI's switches). Not inside `with`.
    package func set(_ value: Value?) {
        if let old = pthread_getspecific(key) { Unmanaged<Value>.fromOpaque(old).release() }
        pthread_setspecific(key, value.map { Unmanaged.passRetained($0).toOpaque() })
    }
}
