// MARK: - What can be asked for by name

/// Names and one-line descriptions of every loss, penalty and architecture.
public enum Catalogue {
    /// Every objective (without penalties) with its formula.
    public static var losses: [(String, String)] {
        AdversarialObjective.all.map { ($0.name, LossSpec.describe($0)) }
            + [("DRAGAN", "SGAN-DRAGAN: SGAN with the DRAGAN penalty"),
               ("RaDRAGAN", "RaSGAN-DRAGAN: RaSGAN with the DRAGAN penalty")]
    }

    /// Every penalty suffix with its formula.
    public static var penalties: [(String, String)] {
        PenaltyKind.allCases.map { ("-" + $0.rawValue, LossSpec.describe($0)) }
    }

    /// Every architecture with its layer sequence.
    public static var architectures: [(String, String)] {
        [("dcgan", "G: ConvT(z,ngf·S/8,4,1,0) BN ReLU, ConvT 4/2/1 halving to ngf with BN ReLU, ConvT(ngf,C,4,2,1) Tanh; "
            + "D: Conv(C,ndf,4,2,1) LReLU(0.2), Conv 4/2/1 doubling with BN LReLU(0.2) to 4×4, Conv(·,1,4,1,0); S = 32, 64, 128, 256; "
            + "options selu (SELU for BN+activation), batch_norm_g/_d, upsample_conv (Upsample×2 + Conv 3/1/1 for ConvT 4/2/1), "
            + "spectral_norm_d/_g (one power iteration per forward, as torch spectral_norm; drops BN)"),
         ("cnn", "the standard CNN of the spectral-norm paper (32×32): G: Linear(z,8ngf·4·4), ConvT 4/2/1 8ngf→4ngf→2ngf→ngf "
            + "with BN ReLU, Conv(ngf,C,3,1,1) Tanh; D: Conv 3/1/1 and 4/2/1 pairs ndf→2ndf→4ndf with BN LReLU(0.1), "
            + "Conv(4ndf,8ndf,3,1,1) LReLU(0.1), Linear(8ndf·4·4,1); options batch_norm_g/_d, spectral_norm_d/_g"),
         ("resnet", "the ResNet pair of the WGAN-GP paper (32: CIFAR layout; 64: the 64×64 layout): G: Linear(z,4·4·w), "
            + "residual up-blocks (BN ReLU Up Conv3 BN ReLU Conv3 + Up Conv1), BN ReLU Conv3 Tanh; D: residual down-blocks "
            + "(32: optimized first block, down, two plain, ReLU, spatial mean, Linear; 64: Conv3, four down, Linear); "
            + "option layer_norm_d (GroupNorm(1,C) in the critic's blocks)"),
         ("patchgan", "the DCGAN generator with a PatchGAN critic (pix2pix, 3 layers): Conv(C,ndf,4,2,1) LReLU(0.2), "
            + "Conv 4/2/1 ndf→2ndf→4ndf and Conv(4ndf,8ndf,4,1,1) each with InstanceNorm LReLU(0.2), Conv(8ndf,1,4,1,1); "
            + "scores every patch (2×2 at 32 px, 6×6 at 64) and the losses average over them; S = 32, 64, 128, 256"),
         ("autoencoder", "the DCGAN generator with an auto-encoder critic for EBGAN and BEGAN: encoder Conv(C,ndf,4,2,1) ReLU "
            + "Flatten Linear(ndf·(S/2)²,h); decoder BN1d(h) ReLU Linear(h,ndf·(S/2)²) BN1d ReLU Unflatten ConvT(ndf,C,4,2,1); "
            + "h = ae_code (32); S = 32, 64, 128, 256"),
         ("mlp", "G: Linear(z,ngf) ReLU, Linear(ngf,ngf) ReLU ×2, Linear(ngf,channels); "
            + "D: Linear(channels,ndf) ReLU, Linear(ndf,ndf) ReLU ×2, Linear(ndf,1); for low-dimensional data (2-D toys); "
            + "with EBGAN/BEGAN the critic is an auto-encoder Linear(channels,ndf) ReLU Linear(ndf,h) | ReLU Linear(h,ndf) ReLU Linear(ndf,channels)")]
    }
}
