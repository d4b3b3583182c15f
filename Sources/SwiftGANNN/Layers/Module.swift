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
}

extension Module {
    public var ownParameters: [(String, Tensor)] { [] }
    public var ownBuffers: [(String, Tensor)] { [] }
    public var children: [(String, Module)] { [] }
    public func setOwnTraining(_ training: Bool) {}

    /// Every trainable tensor of the tree, own first, then each child's with its name as a prefix
    /// (`torch.nn.Module.named_parameters()`).
    public var namedParameters: [(String, Tensor)] { ownParameters + childEntries(\.namedParameters) }
    /// Every buffer of the tree, in the same order (`named_buffers()`).
    public var namedBuffers: [(String, Tensor)] { ownBuffers + childEntries(\.namedBuffers) }
    /// Parameters and buffers in `torch.nn.Module.state_dict()` order: per module its parameters, then its
    /// buffers, then its children's state.
    public var namedState: [(String, Tensor)] { ownParameters + ownBuffers + childEntries(\.namedState) }

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
    /// over the data forward and one backward, and one tensor fewer kept for the backward pass). In
    /// training, when such a pair, or a lone ReLU, LeakyReLU or ELU, feeds a convolution, its output is not kept
    /// for the backward pass but recomputed there (`recomputingIntermediate`): one activation-sized tensor
    /// fewer per layer on the tape (an ELU's costs an exponential per value again, a small part of the
    /// convolution that follows it); when that convolution is the first layer's and cheap to run again
    /// (`isCheapToRecompute`), its output is recomputed too. Off the tape (sampling), an evaluation-mode batch norm after a convolution
    /// writes over the convolution's output, which nothing else holds.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var y = x, i = 0
        while i < layers.count {
            let fresh = i > 0 && layers[i - 1] is ConvolutionLayer && !GradMode.isEnabled
            let bn = layers[i] as? BatchNorm2d
            let activation = bn == nil ? i : i + 1
            // a batch norm fuses only the activations given by a negative slope
            guard activation < layers.count, let op = activationOp(of: layers[activation]),
                  bn == nil || op.negativeSlope != nil else {
                y = layers[i](y)
                i += 1
                continue
            }
            if GradMode.isEnabled, activation + 1 < layers.count, let conv = layers[activation + 1] as? ConvolutionLayer,
               bn.map({ $0.isTraining && !$0.isSynchronized }) ?? true {
                // (a synchronised batch norm is not recomputed: its statistics would be gathered again)
                // The output of a first convolution on an image's few channels is cheap to compute again.
                let first = i == 1 ? layers[0] as? ConvolutionLayer : nil
                let recomputeInput: (() -> Tensor)? = if let first, first.isCheapToRecompute {
                    { withoutGradients { first(x) } }
                } else { nil }
                y = recomputingIntermediate(y, recomputeInput: recomputeInput, pre: { x in
                    if let bn, let slope = op.negativeSlope { bn.recomputable(x, activationSlope: slope) } else { unaryRecomputable(x, op) }
                }, layer: conv.callAsFunction)
                i = activation + 2
            } else if let bn, let slope = op.negativeSlope {
                y = bn(y, activationSlope: slope, overwritingInput: fresh && !bn.isTraining)
                i += 2
            } else {
                y = layers[i](y)
                i += 1
            }
        }
        return y
    }

    /// The element-wise op of an activation layer that `recomputingIntermediate` can write again.
    private func activationOp(of layer: Module) -> UnaryOp? {
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
