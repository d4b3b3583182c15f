// MARK: - Module protocol

/// A layer or network with PyTorch-named parameters and buffers.
///
/// A module declares only what is its own (`ownParameters`, `ownBuffers`, `setOwnTraining`) and its named
/// `children`; listing every tensor by its dotted name (`main.0.weight`) and switching the whole tree between
/// training and evaluation are written once, in this protocol's extension, as `torch.nn.Module` does them.
public protocol Module: AnyObject {
    /// Applies the module.
    func callAsFunction(_ x: Tensor) -> Tensor
    /// The module's own trainable tensors, named as in the equivalent `torch.nn` module (`weight`, `bias`).
    var ownParameters: [(String, Tensor)] { get }
    /// The module's own non-trainable state (`running_mean`, `running_var`).
    var ownBuffers: [(String, Tensor)] { get }
    /// The sub-modules, named and in registration order (`main`; `0`, `1`, ... in a `Sequential`).
    var children: [(String, Module)] { get }
    /// Switches the module's own behaviour between training and evaluation (its children are switched by
    /// `setTraining`).
    func setOwnTraining(_ training: Bool)
    /// Whether the module's training passes read what its earlier ones wrote (spectral norm's power-iteration
    /// vectors), so that the order of its passes changes their outputs. Batch norm's running statistics, written
    /// in training and read only in evaluation, do not make it so (`DeferredRunningStatistics`).
    var ownPassesReadEarlierPasses: Bool { get }
}

extension Module {
    public var ownParameters: [(String, Tensor)] { [] }
    public var ownBuffers: [(String, Tensor)] { [] }
    public var children: [(String, Module)] { [] }
    public func setOwnTraining(_ training: Bool) {}
    public var ownPassesReadEarlierPasses: Bool { false }

    /// Every trainable tensor of the tree, own first, then each child's with its name as a prefix
    /// (`torch.nn.Module.named_parameters()`).
    public var namedParameters: [(String, Tensor)] { ownParameters + childEntries(\.namedParameters) }
    /// Every buffer of the tree, in the same order (`named_buffers()`).
    public var namedBuffers: [(String, Tensor)] { ownBuffers + childEntries(\.namedBuffers) }
    /// Parameters and buffers in `torch.nn.Module.state_dict()` order: per module its parameters, then its
    /// buffers, then its children's state.
    public var namedState: [(String, Tensor)] { ownParameters + ownBuffers + childEntries(\.namedState) }

    /// Whether a training pass of the tree reads what its earlier passes wrote (`ownPassesReadEarlierPasses`);
    /// when not, its training passes give the same outputs and gradients in any order.
    public var passesDependOnOrder: Bool {
        ownPassesReadEarlierPasses || children.contains { $0.1.passesDependOnOrder }
    }

    /// Switches this module and all its descendants between training (batch statistics, power iterations)
    /// and evaluation behaviour.
    public func setTraining(_ training: Bool) {
        setOwnTraining(training)
        for (_, child) in children { child.setTraining(training) }
    }

    private func childEntries(_ list: KeyPath<Module, [(String, Tensor)]>) -> [(String, Tensor)] {
        children.flatMap { name, child in child[keyPath: list].map { ("\(name).\($0.0)", $0.1) } }
    }
}

// MARK: - Sequential

/// Children applied in order, named by index as `torch.nn.Sequential`.
public final class Sequential: Module {
    public let layers: [Module]

    public init(_ layers: [Module]) { self.layers = layers }

    /// Applies the layers in order. A BatchNorm2d followed by ReLU or LeakyReLU runs as one op (one pass
    /// over the data forward and one backward, and one tensor fewer kept for the backward pass). In training,
    /// what such a pair, or a lone ReLU or LeakyReLU, each optionally followed by a nearest 2× upsampling, or an
    /// upsampling alone, hands a convolution is not kept for the backward pass but recomputed there
    /// (`recomputingIntermediate`): the tape keeps their input only, one activation-sized tensor fewer per layer
    /// (four times that with the upsampling: a residual up-block's input grown 4×, BEGAN's decoder), at the cost
    /// of an element-wise pass again. An ELU needs no recomputing: its rule reads its output, the tensor the
    /// convolution keeps (`elu`). When that convolution is the first layer's and cheap to run again
    /// (`isCheapToRecompute`), its output is recomputed too, and an ELU's with it. A convolution followed by a
    /// 2×2 mean pool runs with it as one op, whose recorded backward pass (a penalty's) keeps the pooled gradient
    /// rather than the 4× larger upsampled one (`meanPooledConvolution`). Off the tape
    /// (sampling), an evaluation-mode batch norm after a convolution writes over the convolution's output, which
    /// nothing else holds.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var y = x, i = 0
        while i < layers.count {
            let fresh = i > 0 && layers[i - 1] is ConvolutionLayer && !GradMode.isEnabled
            // The output of a first convolution on an image's few channels is cheap to compute again.
            let first = i == 1 ? layers[0] as? ConvolutionLayer : nil
            let recomputeInput: (() -> Tensor)? = if let first, first.isCheapToRecompute {
                { withoutGradients { first(x) } }
            } else { nil }
            let front = Front(layers, at: i, inputRecomputed: recomputeInput != nil)
            // ... and, when what follows it acts on each sample alone, cheap to compute a slice of the batch at a time.
            let recomputeInputSamples: ((Range<Int>) -> Tensor)? = if let first, recomputeInput != nil, front.batchNorm == nil {
                { range in withoutGradients { first(x.samples(range)) } }
            } else { nil }
            if GradMode.isEnabled, let conv = front.convolution, !front.isEmpty,
               front.batchNorm.map({ $0.isTraining && !$0.isSynchronized }) ?? true {
                // (a synchronised batch norm is not recomputed: its statistics would be gathered again)
                let pooled = pooling(after: i + front.count)
                y = recomputingIntermediate(y, recomputeInput: recomputeInput, recomputeInputSamples: recomputeInputSamples,
                                            pre: front.recomputable, layer: pooled
                                            ? { meanPooledConvolution($0, layer: conv.callAsFunction) } : conv.callAsFunction)
                i += front.count + (pooled ? 2 : 1)
            } else if GradMode.isEnabled, let conv = layers[i] as? ConvolutionLayer, pooling(after: i) {
                y = meanPooledConvolution(y, layer: conv.callAsFunction)
                i += 2
            } else if let bn = front.batchNorm, let slope = front.activation?.negativeSlope {
                y = bn(y, activationSlope: slope, overwritingInput: fresh && !bn.isTraining)
                i += 2
            } else {
                y = layers[i](y)
                i += 1
            }
        }
        return y
    }

    /// Whether the layer after layers[i] is a mean pool (which, after a convolution, runs with it as one op:
    /// `meanPooledConvolution`).
    private func pooling(after i: Int) -> Bool { i + 1 < layers.count && layers[i + 1] is MeanPool2x2 }

    /// The layers at the start of a run [BatchNorm2d + ReLU or LeakyReLU | ReLU, LeakyReLU or ELU] [Upsample2x]
    /// (each part optional), and the convolution that follows them, if one does.
    private struct Front {
        var batchNorm: BatchNorm2d?
        var activation: UnaryOp?
        var upsamples = false
        var convolution: ConvolutionLayer?
        var count: Int { (batchNorm == nil ? 0 : 1) + (activation == nil ? 0 : 1) + (upsamples ? 1 : 0) }
        var isEmpty: Bool { count == 0 }

        /// An ELU is part of a run only when its input is recomputed too: its rule reads its output, which the
        /// convolution keeps anyway, so recomputing it would save nothing.
        init(_ layers: [Module], at start: Int, inputRecomputed: Bool) {
            var i = start
            // a batch norm fuses only the activations given by a negative slope, and comes with one
            if let bn = layers[i] as? BatchNorm2d {
                guard i + 1 < layers.count, let op = Sequential.activationOp(of: layers[i + 1]), op.negativeSlope != nil else { return }
                (batchNorm, activation) = (bn, op)
                i += 2
            } else if let op = Sequential.activationOp(of: layers[i]), op.negativeSlope != nil || inputRecomputed {
                activation = op
                i += 1
            }
            if i < layers.count, layers[i] is Upsample2x {
                upsamples = true
                i += 1
            }
            if i < layers.count { convolution = layers[i] as? ConvolutionLayer }
        }

        /// The run as one recorded op on x, with the closure that writes its output again.
        func recomputable(_ x: Tensor) -> (output: Tensor, refill: (UnsafeMutablePointer<Float>) -> Void) {
            guard let activation else { return upsampleNearest2xRecomputable(x) }  // an upsampling alone
            let activated = if let batchNorm, let slope = activation.negativeSlope {
                batchNorm.recomputable(x, activationSlope: slope)
            } else {
                unaryRecomputable(x, activation)
            }
            return upsamples ? upsampledRecomputable(activated) : activated
        }
    }

    /// The element-wise op of an activation layer that `recomputingIntermediate` can write again.
    fileprivate static func activationOp(of layer: Module) -> UnaryOp? {
        if layer is ReLU { return .relu }
        if let leaky = layer as? LeakyReLU { return .leakyRelu(slope: leaky.slope) }
        if let elu = layer as? ELU { return .elu(alpha: elu.alpha, scale: 1) }
        return nil
    }

    public var children: [(String, Module)] { layers.enumerated().map { ("\($0.offset)", $0.element) } }
}

/// Makes a leaf parameter from `values`.
func parameter(_ t: Tensor) -> Tensor {
    t.requiresGrad = true
    return t
}
