// MARK: - State written from outside

/// The rule for values written into a state tensor from outside (a checkpoint, a copy, the C ABI), for every kind of
/// handle: its name says what it is.
public enum StateValues {
    /// Refuses values that no training could have produced for the state tensor `name`: NaN or ±inf anywhere, a
    /// negative batch-norm running variance, a negative second moment (Adam's `exp_avg_sq`, RMSprop's
    /// `square_avg`).
    public static func check(_ name: String, _ values: UnsafeBufferPointer<Float>) throws(SwiftGANError) {
        if let i = values.firstIndex(where: { !$0.isFinite }) {
            throw SwiftGANError("\(name): holds non-finite values (NaN or ±inf), the first at flat index \(i)")
        }
        let nonNegative = name.hasSuffix("running_var") || name.contains("exp_avg_sq") || name.contains("square_avg")
        if nonNegative, let i = values.firstIndex(where: { $0 < 0 }) {
            throw SwiftGANError("\(name): must be ≥ 0 (a variance), got \(values[i]) at flat index \(i)")
        }
    }
}
