// MARK: - Collectives on the tape

/// `Σ_r t_r`, the element-wise sum of `t` over every rank of `communicator`, the same tensor on every rank.
///
/// Each rank's loss is its share of one loss summed over ranks, so the gradient reaching rank r's `t_r` is the
/// sum over ranks of the gradients reaching the output there: the rule is this same all-reduce, and the op is
/// differentiable to any order (a penalty's double backprop through a synchronised batch norm included). Every
/// rank must record and differentiate the same ops in the same order, as ranks running the same step do.
///
/// - Parameter t: any shape; one rank: `t` itself.
public func allReduceSum(_ t: Tensor, over communicator: any Communicator) -> Tensor {
    guard communicator.size > 1 else { return t }
    let y = t.copy()
    communicator.allReduce(UnsafeMutableBufferPointer(start: y.pointer, count: y.count), .sum)
    return record(y, [t]) { gy, _ in [allReduceSum(gy, over: communicator)] }
}

// MARK: - Synchronised batch normalisation

/// Training-mode 2-D batch normalisation over the batch of every rank, each rank holding a slice of it: equal, on
/// each slice, to `batchNorm2dTraining` of the whole batch up to summation order. Mean and biased variance are
/// per channel over all ranks' N×H×W values (two all-reduces of `[C]` sums: the mean's, then the squared
/// deviations'), written with differentiable ops so that gradients, and gradients of gradients, flow across ranks
/// (what `torch.nn.SyncBatchNorm`, whose backward is not differentiable, cannot do). The running statistics are
/// updated with PyTorch's rule from the global statistics, identically on every rank.
///
/// - Parameters:
///   - x: `[N_r, C, H, W]`, this rank's slice; every rank holds the same number of samples (`slice(of:)`), so the
///     count per channel is derived, not gathered.
///   - gamma, beta: `[C]`.
///   - runningMean, runningVar: `[C]`, updated off the tape.
///   - slope: the activation after it (0: ReLU, > 0: leaky ReLU, 1: none).
public func syncBatchNorm2dTraining(_ x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor,
                                    over communicator: any Communicator, momentum: Float = 0.1, eps: Float = 1e-5,
                                    slope: Float = 1) -> Tensor {
    let c = x.shape[1]
    let count = x.count / max(c, 1) * communicator.size  // values per channel over all ranks' equal slices
    let axes = [0, 2, 3]
    let mean = allReduceSum(x.sum(alongAxes: axes), over: communicator) / Float(count)  // [1, C, 1, 1]
    let centered = x - mean
    let variance = allReduceSum(square(centered).sum(alongAxes: axes), over: communicator) / Float(count)
    let normalized = centered / sqrt(variance + eps)
    let y = normalized * gamma.reshaped([1, c, 1, 1]) + beta.reshaped([1, c, 1, 1])
    updateRunningStatistics(runningMean, runningVar, mean: mean, variance: variance, count: count, momentum: momentum)
    switch slope {
    case 1: return y
    case 0: return relu(y)
    default: return leakyRelu(y, slope: slope)
    }
}
