// MARK: - Inception-v3 of FID (pytorch-fid's FIDInceptionV3), for features in evaluation only

/// The Inception-v3 network whose 2048 pool features FID, KID and precision/recall are computed in by
/// pytorch-fid and clean-fid: torchvision's Inception3 with the blocks TensorFlow's FID graph has (average pools
/// that leave the padding out of the mean; max pooling in the last block), up to the global average pool.
/// Its tensors are named as in that network's state dict (`Mixed_5b.branch1x1.conv.weight`), so the weights of
/// pytorch-fid's `pt_inception-2015-12-05-*.pth` load by name; it is built with zero weights and only evaluates
/// (no gradients, no training).
///
/// `features` takes images [N, C, H, W] in [-1, 1] (1 channel: repeated to 3) of any size, resizes them to
/// 299×299 (bilinear, align_corners=False, as pytorch-fid) and returns [N, 2048].
public final class InceptionV3: Module {
    public static let inputSize = 299
    public let featureCount = 2048
    let stem: [(String, BasicConv2d)]
    let mixed: [(String, Module)]

    public init() {
        stem = [("Conv2d_1a_3x3", BasicConv2d(3, 32, 3, stride: 2)), ("Conv2d_2a_3x3", BasicConv2d(32, 32, 3)),
                ("Conv2d_2b_3x3", BasicConv2d(32, 64, 3, padding: (1, 1))), ("Conv2d_3b_1x1", BasicConv2d(64, 80, 1)),
                ("Conv2d_4a_3x3", BasicConv2d(80, 192, 3))]
        mixed = [("Mixed_5b", InceptionA(192, poolFeatures: 32)), ("Mixed_5c", InceptionA(256, poolFeatures: 64)),
                 ("Mixed_5d", InceptionA(288, poolFeatures: 64)), ("Mixed_6a", InceptionB(288)),
                 ("Mixed_6b", InceptionC(768, channels7x7: 128)), ("Mixed_6c", InceptionC(768, channels7x7: 160)),
                 ("Mixed_6d", InceptionC(768, channels7x7: 160)), ("Mixed_6e", InceptionC(768, channels7x7: 192)),
                 ("Mixed_7a", InceptionD(768)), ("Mixed_7b", InceptionE(1280, maxPool: false)),
                 ("Mixed_7c", InceptionE(2048, maxPool: true))]
    }

    public var children: [(String, Module)] { stem.map { ($0.0, $0.1 as Module) } + mixed }

    /// The pool features [N, 2048] of images [N, 1 or 3, H, W] in [-1, 1].
    public func features(_ images: Tensor) -> Tensor {
        withoutGradients {
            let n = images.shape[0], side = InceptionV3.inputSize
            var x = images.shape[1] == 3 ? images : repeatedChannels(images, 3)
            if images.shape[2] != side || images.shape[3] != side {
                let resized = Tensor(uninitialized: [n, 3, side, side])
                bilinearResizeForward(resized.pointer, x.pointer, planes: n * 3, height: x.shape[2], width: x.shape[3],
                                      outHeight: side, outWidth: side)
                x = resized
            }
            x = stem[0].1(x)
            x = stem[1].1(x)
            x = maxPool(stem[2].1(x), kernel: 3, stride: 2, padding: 0)
            x = maxPool(stem[4].1(stem[3].1(x)), kernel: 3, stride: 2, padding: 0)
            for (_, block) in mixed { x = block(x) }
            return x.mean(alongAxes: [2, 3]).flattened()
        }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { features(x) }
}

// MARK: - Blocks (torchvision's, with pytorch-fid's FID patches)

/// A convolution without bias, batch normalisation (eps 0.001) and ReLU; kernels and padding may be rectangular.
final class BasicConv2d: Module {
    let conv: RectangularConvolution
    let bn: BatchNorm2d

    init(_ input: Int, _ output: Int, _ kernel: Int, stride: Int = 1, padding: (Int, Int) = (0, 0)) {
        conv = RectangularConvolution(input, output, kernel: (kernel, kernel), stride: stride, padding: padding)
        bn = BatchNorm2d(output, eps: 0.001)
    }

    init(_ input: Int, _ output: Int, kernel: (Int, Int), padding: (Int, Int)) {
        conv = RectangularConvolution(input, output, kernel: kernel, stride: 1, padding: padding)
        bn = BatchNorm2d(output, eps: 0.001)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        batchNorm2dInference(conv(x), gamma: bn.weight, beta: bn.bias, runningMean: bn.runningMean,
                             runningVar: bn.runningVar, eps: bn.eps, slope: 0, overwritingInput: true)
    }

    var children: [(String, Module)] { [("conv", conv), ("bn", bn)] }
}

/// `torch.nn.Conv2d` without bias, with a KH×KW kernel and (top/bottom, left/right) zero padding.
final class RectangularConvolution: Module {
    let weight: Tensor
    let stride: Int, padding: (Int, Int)

    init(_ input: Int, _ output: Int, kernel: (Int, Int), stride: Int, padding: (Int, Int)) {
        weight = .zeros([output, input, kernel.0, kernel.1])
        (self.stride, self.padding) = (stride, padding)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        if padding.0 == padding.1 { return conv2d(x, weight: weight, stride: stride, padding: padding.0) }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let padded = Tensor(uninitialized: [n, c, h + 2 * padding.0, w + 2 * padding.1])
        zeroPadForward(padded.pointer, x.pointer, planes: n * c, height: h, width: w, top: padding.0, left: padding.1)
        return conv2d(padded, weight: weight, stride: stride)
    }

    var ownParameters: [(String, Tensor)] { [("weight", weight)] }
}

final class InceptionA: Module {
    let branch1x1, branch5x5_1, branch5x5_2, branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3, branch_pool: BasicConv2d

    init(_ input: Int, poolFeatures: Int) {
        branch1x1 = BasicConv2d(input, 64, 1)
        branch5x5_1 = BasicConv2d(input, 48, 1)
        branch5x5_2 = BasicConv2d(48, 64, 5, padding: (2, 2))
        branch3x3dbl_1 = BasicConv2d(input, 64, 1)
        branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding: (1, 1))
        branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding: (1, 1))
        branch_pool = BasicConv2d(input, poolFeatures, 1)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        concatenatedChannels([branch1x1(x), branch5x5_2(branch5x5_1(x)),
                              branch3x3dbl_3(branch3x3dbl_2(branch3x3dbl_1(x))), branch_pool(averagePool3x3(x))])
    }

    var children: [(String, Module)] {
        [("branch1x1", branch1x1), ("branch5x5_1", branch5x5_1), ("branch5x5_2", branch5x5_2),
         ("branch3x3dbl_1", branch3x3dbl_1), ("branch3x3dbl_2", branch3x3dbl_2), ("branch3x3dbl_3", branch3x3dbl_3),
         ("branch_pool", branch_pool)]
    }
}

final class InceptionB: Module {
    let branch3x3, branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3: BasicConv2d

    init(_ input: Int) {
        branch3x3 = BasicConv2d(input, 384, 3, stride: 2)
        branch3x3dbl_1 = BasicConv2d(input, 64, 1)
        branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding: (1, 1))
        branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride: 2)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        concatenatedChannels([branch3x3(x), branch3x3dbl_3(branch3x3dbl_2(branch3x3dbl_1(x))),
                              maxPool(x, kernel: 3, stride: 2, padding: 0)])
    }

    var children: [(String, Module)] {
        [("branch3x3", branch3x3), ("branch3x3dbl_1", branch3x3dbl_1), ("branch3x3dbl_2", branch3x3dbl_2),
         ("branch3x3dbl_3", branch3x3dbl_3)]
    }
}

final class InceptionC: Module {
    let branch1x1, branch7x7_1, branch7x7_2, branch7x7_3: BasicConv2d
    let branch7x7dbl_1, branch7x7dbl_2, branch7x7dbl_3, branch7x7dbl_4, branch7x7dbl_5, branch_pool: BasicConv2d

    init(_ input: Int, channels7x7 c: Int) {
        branch1x1 = BasicConv2d(input, 192, 1)
        branch7x7_1 = BasicConv2d(input, c, 1)
        branch7x7_2 = BasicConv2d(c, c, kernel: (1, 7), padding: (0, 3))
        branch7x7_3 = BasicConv2d(c, 192, kernel: (7, 1), padding: (3, 0))
        branch7x7dbl_1 = BasicConv2d(input, c, 1)
        branch7x7dbl_2 = BasicConv2d(c, c, kernel: (7, 1), padding: (3, 0))
        branch7x7dbl_3 = BasicConv2d(c, c, kernel: (1, 7), padding: (0, 3))
        branch7x7dbl_4 = BasicConv2d(c, c, kernel: (7, 1), padding: (3, 0))
        branch7x7dbl_5 = BasicConv2d(c, 192, kernel: (1, 7), padding: (0, 3))
        branch_pool = BasicConv2d(input, 192, 1)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let double = branch7x7dbl_5(branch7x7dbl_4(branch7x7dbl_3(branch7x7dbl_2(branch7x7dbl_1(x)))))
        return concatenatedChannels([branch1x1(x), branch7x7_3(branch7x7_2(branch7x7_1(x))), double,
                                     branch_pool(averagePool3x3(x))])
    }

    var children: [(String, Module)] {
        [("branch1x1", branch1x1), ("branch7x7_1", branch7x7_1), ("branch7x7_2", branch7x7_2),
         ("branch7x7_3", branch7x7_3), ("branch7x7dbl_1", branch7x7dbl_1), ("branch7x7dbl_2", branch7x7dbl_2),
         ("branch7x7dbl_3", branch7x7dbl_3), ("branch7x7dbl_4", branch7x7dbl_4), ("branch7x7dbl_5", branch7x7dbl_5),
         ("branch_pool", branch_pool)]
    }
}

final class InceptionD: Module {
    let branch3x3_1, branch3x3_2, branch7x7x3_1, branch7x7x3_2, branch7x7x3_3, branch7x7x3_4: BasicConv2d

    init(_ input: Int) {
        branch3x3_1 = BasicConv2d(input, 192, 1)
        branch3x3_2 = BasicConv2d(192, 320, 3, stride: 2)
        branch7x7x3_1 = BasicConv2d(input, 192, 1)
        branch7x7x3_2 = BasicConv2d(192, 192, kernel: (1, 7), padding: (0, 3))
        branch7x7x3_3 = BasicConv2d(192, 192, kernel: (7, 1), padding: (3, 0))
        branch7x7x3_4 = BasicConv2d(192, 192, 3, stride: 2)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        concatenatedChannels([branch3x3_2(branch3x3_1(x)),
                              branch7x7x3_4(branch7x7x3_3(branch7x7x3_2(branch7x7x3_1(x)))),
                              maxPool(x, kernel: 3, stride: 2, padding: 0)])
    }

    var children: [(String, Module)] {
        [("branch3x3_1", branch3x3_1), ("branch3x3_2", branch3x3_2), ("branch7x7x3_1", branch7x7x3_1),
         ("branch7x7x3_2", branch7x7x3_2), ("branch7x7x3_3", branch7x7x3_3), ("branch7x7x3_4", branch7x7x3_4)]
    }
}

/// torchvision's InceptionE; FID's graph pools its branch by the mean in Mixed_7b and by the maximum in
/// Mixed_7c (`maxPool`), as pytorch-fid's FIDInceptionE_1 and _2.
final class InceptionE: Module {
    let branch1x1, branch3x3_1, branch3x3_2a, branch3x3_2b: BasicConv2d
    let branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3a, branch3x3dbl_3b, branch_pool: BasicConv2d
    let maxPooled: Bool

    init(_ input: Int, maxPool: Bool) {
        branch1x1 = BasicConv2d(input, 320, 1)
        branch3x3_1 = BasicConv2d(input, 384, 1)
        branch3x3_2a = BasicConv2d(384, 384, kernel: (1, 3), padding: (0, 1))
        branch3x3_2b = BasicConv2d(384, 384, kernel: (3, 1), padding: (1, 0))
        branch3x3dbl_1 = BasicConv2d(input, 448, 1)
        branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding: (1, 1))
        branch3x3dbl_3a = BasicConv2d(384, 384, kernel: (1, 3), padding: (0, 1))
        branch3x3dbl_3b = BasicConv2d(384, 384, kernel: (3, 1), padding: (1, 0))
        branch_pool = BasicConv2d(input, 192, 1)
        maxPooled = maxPool
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let single = branch3x3_1(x), double = branch3x3dbl_2(branch3x3dbl_1(x))
        let pooled = maxPooled ? maxPool(x, kernel: 3, stride: 1, padding: 1) : averagePool3x3(x)
        return concatenatedChannels([branch1x1(x), branch3x3_2a(single), branch3x3_2b(single), branch3x3dbl_3a(double),
                                     branch3x3dbl_3b(double), branch_pool(pooled)])
    }

    var children: [(String, Module)] {
        [("branch1x1", branch1x1), ("branch3x3_1", branch3x3_1), ("branch3x3_2a", branch3x3_2a),
         ("branch3x3_2b", branch3x3_2b), ("branch3x3dbl_1", branch3x3dbl_1), ("branch3x3dbl_2", branch3x3dbl_2),
         ("branch3x3dbl_3a", branch3x3dbl_3a), ("branch3x3dbl_3b", branch3x3dbl_3b), ("branch_pool", branch_pool)]
    }
}

// MARK: - Forward-only tensor helpers of the blocks

private func maxPool(_ x: Tensor, kernel: Int, stride: Int, padding: Int) -> Tensor {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let y = Tensor(uninitialized: [n, c, pooledSize(h, kernel: kernel, stride: stride, padding: padding),
                                   pooledSize(w, kernel: kernel, stride: stride, padding: padding)])
    maxPool2dForward(y.pointer, x.pointer, planes: n * c, height: h, width: w, kernel: kernel, stride: stride,
                     padding: padding)
    return y
}

private func averagePool3x3(_ x: Tensor) -> Tensor {
    let y = Tensor(uninitialized: x.shape)
    averagePool3x3Forward(y.pointer, x.pointer, planes: x.shape[0] * x.shape[1], height: x.shape[2], width: x.shape[3])
    return y
}

/// `parts` [N, Cᵢ, H, W] side by side along the channels: [N, ΣCᵢ, H, W].
private func concatenatedChannels(_ parts: [Tensor]) -> Tensor {
    let n = parts[0].shape[0], plane = parts[0].shape[2] * parts[0].shape[3]
    let total = parts.reduce(0) { $0 + $1.shape[1] }
    let y = Tensor(uninitialized: [n, total, parts[0].shape[2], parts[0].shape[3]])
    for i in 0..<n {
        var offset = 0
        for part in parts {
            let size = part.shape[1] * plane
            (y.pointer + (i * total * plane) + offset).update(from: part.pointer + i * size, count: size)
            offset += size
        }
    }
    return y
}

/// Images [N, 1, H, W] with their one channel repeated `count` times.
private func repeatedChannels(_ x: Tensor, _ count: Int) -> Tensor {
    let n = x.shape[0], plane = x.shape[2] * x.shape[3]
    let y = Tensor(uninitialized: [n, count, x.shape[2], x.shape[3]])
    for i in 0..<n { for c in 0..<count { (y.pointer + (i * count + c) * plane).update(from: x.pointer + i * plane, count: plane) } }
    return y
}
