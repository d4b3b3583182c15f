/// An error a caller can cause: a bad argument, shape, name or file content.
///
/// The message names the argument and what was expected; the C ABI returns it
/// through `sg_last_error()` and Python raises it as `ValueError` or
/// `swiftgan.SwiftGANError`.
public struct SwiftGANError: Error, CustomStringConvertible, Equatable {
    /// What went wrong, for a person.
    public let message: String
    /// Whether the caller passed an invalid value (as opposed to an engine failure).
    public let isInvalidArgument: Bool

    /// Creates an error; `invalidArgument` marks errors caused by a bad argument.
    public init(_ message: String, invalidArgument: Bool = true) {
        self.message = message
        self.isInvalidArgument = invalidArgument
    }

    public var description: String { message }
}
