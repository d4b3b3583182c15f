// MARK: - Classification loss

/// The mean softmax cross-entropy of `logits` [N, K] against class indices `labels` (each in [0, K)), computed
/// stably (each row shifted by its maximum, a constant).
public func crossEntropy(logits: Tensor, labels: [Int]) -> Tensor {
    let (n, k) = (logits.shape[0], logits.shape[1])
    let maxima = Tensor(uninitialized: [n, 1])
    let oneHot = Tensor(uninitialized: [n, k])
    oneHot.pointer.update(repeating: 0, count: n * k)
    for i in 0..<n {
        var largest = -Float.infinity
        for j in 0..<k { largest = max(largest, logits.pointer[i * k + j]) }
        maxima.pointer[i] = largest
        oneHot.pointer[i * k + labels[i]] = 1
    }
    let shifted = logits - maxima
    return (log(exp(shifted).sum(alongAxes: [1])) - (shifted * oneHot).sum(alongAxes: [1])).mean()
}
