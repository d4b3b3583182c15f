"""The PyTorch twins of SwiftGAN's models, losses and training iteration (`swiftgan_torch.twin`): the reference the
parity tests, `reference/` and `swiftgan compare` check SwiftGAN's numbers against.

A separate, optional package beside `swiftgan`: it needs torch, which SwiftGAN never depends on, and nothing in
`swiftgan` imports it. `swiftgan compare` runs it in a Python that has torch, in a process of its own.
"""
