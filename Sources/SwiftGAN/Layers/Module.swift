// MARK: - Module protocol

/// A layer or network with PyTorch-named parameters and buffers.
public protocol Module: AnyObject {
    /// Applies the module.
    func callAsFunction(_ x: Tensor) -> Tensor
    /// Trainable tensors, named as in the equivalent `torch.nn` module (`weight`, `main.0.weight`).
    var namedParameters: [(String, Tensor)] { get }
    /// Non-trainable state (`running_mean`, `running_var`).
    var namedBuffers: [(String, Tensor)] { get }
    /// Parameters and buffers in `torch.nn.Module.state_dict()` order (per layer, parameters first).
    var namedState: [(String, Tensor)] { get }
    /// Switches between training (batch statistics) and evaluation behaviour.
    func setTraining(_ training: Bool)
}

extension Module {
    public var namedParameters: [(String, Tensor)] { [] }
    public var namedBuffers: [(String, Tensor)] { [] }
    public var namedState: [(String, Tensor)] { namedParameters + namedBuffers }
    public func setTraining(_ training: Bool) {}
}

// MARK: - Sequential

/// Children applied in order, named by index as `torch.nn.Sequential`.
public final class Sequential: Module {
    public let layers: [Module]

    public init(_ layers: [Module]) { self.layers = layers }

    /// Applies the layers in order. A BatchNorm2d followed by ReLU or LeakyReLU runs as one op (one pass
    /// over the data forward and one backward, and one tensor fewer kept for the backward pass). In
    /// training, when such a pair, or a lone ReLU or LeakyReLU, feeds a convolution, its output is not kept
    /// for the backward pass but recomputed there (`recomputingIntermediate`): one activation-sized tensor
    /// fewer per layer on the tape; when that convolution is the first layer's and cheap to run again
    /// (`isCheapToRecompute`), its output is recomputed too. Off the tape (sampling), an evaluation-mode batch norm after a convolution
    /// writes over the convolution's output, which nothing else holds.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var y = x, i = 0
        while i < layers.count {
            let fresh = i > 0 && layers[i - 1] is ConvolutionLayer && !GradMode.isEnabled
            let bn = layers[i] as? BatchNorm2d
            let activation = bn == nil ? i : i + 1
            guard activation < layers.count, let slope = negativeSlope(of: layers[activation]) else {
                y = layers[i](y)
                i += 1
                continue
            }
            if GradMode.isEnabled, activation + 1 < layers.count, let conv = layers[activation + 1] as? ConvolutionLayer,
               bn?.isTraining ?? true {
                // The output of a first convolution on an image's few channels is cheap to compute again.
                let first = i == 1 ? layers[0] as? ConvolutionLayer : nil
                let recomputeInput: (() -> Tensor)? = if let first, first.isCheapToRecompute {
                    { withoutGradients { first(x) } }
                } else { nil }
                y = recomputingIntermediate(y, recomputeInput: recomputeInput, pre: { x in
                    bn?.recomputable(x, activationSlope: slope) ?? unaryRecomputable(x, slope == 0 ? .relu : .leakyRelu(slope: slope))
                }, layer: conv.callAsFunction)
                i = activation + 2
            } else if let bn {
                y = bn(y, activationSlope: slope, overwritingInput: fresh && !bn.isTraining)
                i += 2
            } else {
                y = layers[i](y)
                i += 1
            }
        }
        return y
    }

    private func negativeSlope(of layer: Module) -> Float? {
        if layer is ReLU { return 0 }
        if let leaky = layer as? LeakyReLU { return leaky.slope }
        return nil
    }

    public var namedParameters: [(String, Tensor)] {
        layers.enumerated().flatMap { i, l in l.namedParameters.map { ("\(i).\($0.0)", $0.1) } }
    }

    public var namedBuffers: [(String, Tensor)] {
        layers.enumerated().flatMap { i, l in l.namedBuffers.map { ("\(i).\($0.0)", $0.1) } }
    }

    public var namedState: [(String, Tensor)] {
        layers.enumerated().flatMap { i, l in l.namedState.map { ("\(i).\($0.0)", $0.1) } }
    }

    public func setTraining(_ training: Bool) { layers.forEach { $0.setTraining(training) } }
}

/// Makes a leaf parameter from `values`.
func parameter(_ t: Tensor) -> Tensor {
    t.requiresGrad = true
    return t
}
