// MARK: - BatchNorm2d

/// `torch.nn.BatchNorm2d` (momentum 0.1, eps 1e-5, affine, running statistics).
public final class BatchNorm2d: Module {
    public let weight: Tensor, bias: Tensor
    public let runningMean: Tensor, runningVar: Tensor
    public let momentum: Float, eps: Float
    public private(set) var isTraining = true
    /// The ranks whose slices of one batch this layer normalises together in training (`syncBatchNorm2dTraining`),
    /// set by `synchronizeBatchNorm(over:)`; nil: this process's batch alone.
    public internal(set) var communicator: (any Communicator)?

    /// Whether training normalises over several ranks' batches.
    var isSynchronized: Bool { (communicator?.size ?? 1) > 1 }

    /// Weight 1, bias 0, running mean 0, running variance 1, as PyTorch.
    public init(_ channels: Int, momentum: Float = 0.1, eps: Float = 1e-5) {
        weight = parameter(.ones([channels]))
        bias = parameter(.zeros([channels]))
        runningMean = .zeros([channels])
        runningVar = .ones([channels])
        self.momentum = momentum
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { self(x, activationSlope: 1) }

    /// The normalisation followed by the activation of negative slope `activationSlope` (0: ReLU; 1: none),
    /// fused (see `batchNorm2dTraining` and `batchNorm2dInference`; `overwritingInput` is the latter's).
    public func callAsFunction(_ x: Tensor, activationSlope slope: Float, overwritingInput: Bool = false) -> Tensor {
        if isTraining, let communicator, communicator.size > 1 {
            return syncBatchNorm2dTraining(x, gamma: weight, beta: bias, runningMean: runningMean, runningVar: runningVar,
                                           over: communicator, momentum: momentum, eps: eps, slope: slope)
        }
        return isTraining
            ? batchNorm2dTraining(x, gamma: weight, beta: bias, runningMean: runningMean, runningVar: runningVar,
                                  momentum: momentum, eps: eps, slope: slope)
            : batchNorm2dInference(x, gamma: weight, beta: bias, runningMean: runningMean, runningVar: runningVar,
                                   eps: eps, slope: slope, overwritingInput: overwritingInput)
    }

    /// Training-mode `self(x, activationSlope:)` with the closure that writes its output again
    /// (`batchNorm2dTrainingRecomputable`).
    func recomputable(_ x: Tensor, activationSlope slope: Float) -> (output: Tensor, refill: (UnsafeMutablePointer<Float>) -> Void) {
        batchNorm2dTrainingRecomputable(x, gamma: weight, beta: bias, runningMean: runningMean, runningVar: runningVar,
                                        momentum: momentum, eps: eps, slope: slope)
    }

    public var ownParameters: [(String, Tensor)] { [("weight", weight), ("bias", bias)] }
    public var ownBuffers: [(String, Tensor)] { [("running_mean", runningMean), ("running_var", runningVar)] }
    public func setOwnTraining(_ training: Bool) { isTraining = training }
}

// MARK: - InstanceNorm2d

/// `torch.nn.InstanceNorm2d(C)` with PyTorch's defaults: no affine parameters, no running statistics.
public final class InstanceNorm2d: Module {
    public let eps: Float
    public init(eps: Float = 1e-5) { self.eps = eps }
    public func callAsFunction(_ x: Tensor) -> Tensor { instanceNorm2d(x, eps: eps) }
}

// MARK: - GroupNorm(1, C)

/// `torch.nn.GroupNorm(1, C)`: layer norm over C×H×W with per-channel `weight` (1) and `bias` (0).
public final class LayerNorm2d: Module {
    public let weight: Tensor, bias: Tensor
    public init(_ channels: Int) {
        weight = parameter(.ones([channels]))
        bias = parameter(.zeros([channels]))
    }
    public func callAsFunction(_ x: Tensor) -> Tensor { layerNorm2d(x, gamma: weight, beta: bias) }
    public var ownParameters: [(String, Tensor)] { [("weight", weight), ("bias", bias)] }
}

// MARK: - BatchNorm1d

/// `torch.nn.BatchNorm1d(F)` on `[N, F]`: batch norm of each feature (same rule and state as BatchNorm2d).
public final class BatchNorm1d: Module {
    public let norm: BatchNorm2d
    public init(_ features: Int) { norm = BatchNorm2d(features) }
    public func callAsFunction(_ x: Tensor) -> Tensor { norm(x.reshaped([x.shape[0], x.shape[1], 1, 1])).reshaped(x.shape) }
    // The 2-d batch norm it runs is an implementation detail, not a child: its tensors are this module's own.
    public var ownParameters: [(String, Tensor)] { norm.ownParameters }
    public var ownBuffers: [(String, Tensor)] { norm.ownBuffers }
    public func setOwnTraining(_ training: Bool) { norm.setOwnTraining(training) }
}

// MARK: - Synchronised batch norm

extension Module {
    /// Makes every batch norm of the tree (BatchNorm2d, and the one inside each BatchNorm1d) normalise in training
    /// over the batch of all ranks of `communicator`, or (nil, or one rank) over this process's batch alone.
    public func synchronizeBatchNorm(over communicator: (any Communicator)?) {
        if let norm = self as? BatchNorm2d { norm.communicator = communicator }
        if let norm = self as? BatchNorm1d { norm.norm.communicator = communicator }
        for (_, child) in children { child.synchronizeBatchNorm(over: communicator) }
    }
}
