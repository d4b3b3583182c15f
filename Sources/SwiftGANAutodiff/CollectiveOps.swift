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

// MARK: - Gathering a batch

/// Every rank's `t` `[N_r, ...]` stacked along the first axis, rank 0's first: `[size · N_r, ...]`, the same on
/// every rank (for a loss that couples the samples of the whole batch: relativistic means, all-pairs terms,
/// EBGAN's pull-away term).
///
/// Its gradient is for a value every rank computes identically from the gathered tensor, as the training step's
/// losses: each rank takes the rows of its own `t` (`localRows`), so that the gradients the ranks compute through
/// their slices sum, over ranks, to the gradient of that value counted once.
///
/// - Parameter t: `[N_r, ...]`, the same shape on every rank; one rank: `t` itself.
public func allGather(_ t: Tensor, over communicator: any Communicator) -> Tensor {
    guard communicator.size > 1 else { return t }
    let y = Tensor(uninitialized: [t.shape[0] * communicator.size] + t.shape.dropFirst())
    communicator.allGather(UnsafeMutableBufferPointer(start: y.pointer, count: y.count),
                           UnsafeBufferPointer(start: t.pointer, count: t.count))
    return record(y, [t]) { gy, _ in [localRows(gy, over: communicator)] }
}

/// This rank's rows of `t` `[size · N_r, ...]`: rows rank · N_r ..< (rank + 1) · N_r, `[N_r, ...]` (a batch dealt
/// in rank order, as `Communicator.slice(of:)` deals it).
///
/// Its rule puts the gradient back at those rows, zeros elsewhere (whose rule is this again).
public func localRows(_ t: Tensor, over communicator: any Communicator) -> Tensor {
    guard communicator.size > 1 else { return t }
    let y = t.samples(communicator.slice(of: t.shape[0]))
    let fullShape = t.shape
    return record(y, [t]) { gy, _ in [placedRows(gy, into: fullShape, over: communicator)] }
}

/// `g` `[N_r, ...]` at this rank's rows of a zero tensor of shape `shape` `[size · N_r, ...]`.
func placedRows(_ g: Tensor, into shape: [Int], over communicator: any Communicator) -> Tensor {
    let y = Tensor.zeros(shape)
    let rows = communicator.slice(of: shape[0]), rowSize = y.count / max(shape[0], 1)
    (y.pointer + rows.lowerBound * rowSize).update(from: g.pointer, count: g.count)
    return record(y, [g]) { gy, _ in [localRows(gy, over: communicator)] }
}
