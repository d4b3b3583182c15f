/// An error a caller can cause: a bad argument, shape, name or file content; or a training step that went
/// non-finite.
///
/// The message names the argument and what was expected; the C ABI returns it
/// through `sg_last_error()` and Python raises it as `ValueError`, `swiftgan.SwiftGANError` or (for a
/// divergence) `swiftgan.TrainingDivergedError`.
public struct SwiftGANError: Error, CustomStringConvertible, Equatable {
    /// What kind of failure it is.
    public enum Kind: Equatable {
        /// The caller passed an invalid value; nothing changed.
        case invalidArgument
        /// The engine failed.
        case engine
        /// A training step's loss, gradients or update was not finite (NaN or ±inf); the update was not applied.
        case diverged
        /// An operation needed more memory than the process can get; it was refused before its work, nothing changed.
        case outOfMemory
    }

    /// What went wrong, for a person.
    public let message: String
    public let kind: Kind

    /// Creates an error; `invalidArgument` marks errors caused by a bad argument (else an engine failure).
    public init(_ message: String, invalidArgument: Bool = true) {
        self.message = message
        self.kind = invalidArgument ? .invalidArgument : .engine
    }

    /// Creates an error of `kind`.
    public init(_ message: String, kind: Kind) {
        self.message = message
        self.kind = kind
    }

    /// Whether the caller passed an invalid value (as opposed to an engine failure or a divergence).
    public var isInvalidArgument: Bool { kind == .invalidArgument }

    public var description: String { message }
}
