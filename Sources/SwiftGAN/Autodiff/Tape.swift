import Glibc

// MARK: - Recording mode

/// Whether differentiable ops record tape nodes on the current thread.
///
/// Recording is on by default. `gradients(of:wrt:createGraph: false)` runs the
/// backward rules with recording off, so no graph of the gradient is kept;
/// with `createGraph: true` it stays on and the gradients are differentiable.
public enum GradMode {
    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()

    /// Whether ops on this thread record tape nodes.
    public static var isEnabled: Bool { pthread_getspecific(key) == nil }

    /// Runs `body` with recording switched on or off on this thread.
    public static func with<R>(enabled: Bool, _ body: () throws -> R) rethrows -> R {
        let saved = pthread_getspecific(key)
        pthread_setspecific(key, enabled ? nil : UnsafeRawPointer(bitPattern: 1))
        defer { pthread_setspecific(key, saved) }
        return try body()
    }
}

/// Runs `body` without recording (forward passes whose gradient nobody needs).
public func withoutGradients<R>(_ body: () throws -> R) rethrows -> R {
    try GradMode.with(enabled: false, body)
}

// MARK: - Tape node

/// One recorded op: its inputs and the rule mapping the output's gradient to
/// the inputs' gradients. The rule receives which inputs need a gradient and
/// returns `nil` for the others; it is written with differentiable ops.
final class Node {
    let inputs: [Tensor]
    let backward: (_ gradOutput: Tensor, _ needed: [Bool]) -> [Tensor?]

    init(inputs: [Tensor], backward: @escaping (Tensor, [Bool]) -> [Tensor?]) {
        self.inputs = inputs
        self.backward = backward
    }
}

/// Attaches a tape node to `output` when recording and any input is differentiable.
@inline(__always)
func record(_ output: Tensor, _ inputs: [Tensor], _ backward: @escaping (Tensor, [Bool]) -> [Tensor?]) -> Tensor {
    if GradMode.isEnabled, inputs.contains(where: { $0.isDifferentiable }) {
        output.gradFn = Node(inputs: inputs, backward: backward)
    }
    return output
}

// MARK: - Gradients

/// The gradients of `y` with respect to each tensor of `wrt`.
///
/// Only the part of the graph between `y` and `wrt` is walked: a node whose
/// inputs cannot reach any of `wrt` is never asked for a gradient, and a rule
/// is told which of its inputs need one. The seed is `seed` (default: ones, so
/// a non-scalar `y` is summed, as `grad_outputs=ones` in PyTorch).
///
/// - Parameters:
///   - y: the tensor to differentiate.
///   - wrt: the tensors to differentiate against (leaves or intermediates).
///   - seed: the gradient of the output, shaped as `y`.
///   - createGraph: record the backward pass so the returned gradients can be
///     differentiated again (exact double backprop).
///   - retainGraph: keep the graph for another call (as PyTorch's `retain_graph`); false releases each
///     node once its gradient is passed on, so the tensors it saved are freed during the backward pass
///     rather than after it. Without `createGraph` only.
/// - Returns: one gradient per `wrt` entry; zeros where `y` does not depend on it.
public func gradients(of y: Tensor, wrt: [Tensor], seed: Tensor? = nil, createGraph: Bool = false,
                      retainGraph: Bool = true) -> [Tensor] {
    // Topological order of the tensors reachable from y (inputs before users).
    var order: [Tensor?] = []
    var visited = Set<ObjectIdentifier>()
    var stack: [(Tensor, Int)] = [(y, 0)]
    visited.insert(ObjectIdentifier(y))
    while let (t, next) = stack.popLast() {
        let inputs = t.gradFn?.inputs ?? []
        if next < inputs.count {
            stack.append((t, next + 1))
            let input = inputs[next]
            if input.isDifferentiable, visited.insert(ObjectIdentifier(input)).inserted {
                stack.append((input, 0))
            }
        } else {
            order.append(t)
        }
    }

    // Which tensors lie on a path to a requested one.
    let targets = Set(wrt.map(ObjectIdentifier.init))
    var reaches = Set<ObjectIdentifier>()
    for case let t? in order {
        let id = ObjectIdentifier(t)
        if targets.contains(id) || (t.gradFn?.inputs.contains { reaches.contains(ObjectIdentifier($0)) } ?? false) {
            reaches.insert(id)
        }
    }
    let release = !retainGraph && !createGraph

    var grads: [ObjectIdentifier: Tensor] = [:]
    GradMode.with(enabled: createGraph) {
        grads[ObjectIdentifier(y)] = seed ?? Tensor.ones(y.shape)
        for index in order.indices.reversed() {
            guard let t = order[index] else { continue }
            if release { order[index] = nil }  // the graph's last reference to t, unless a user's node holds it
            let id = ObjectIdentifier(t)
            guard reaches.contains(id), let node = t.gradFn, let g = grads[id] else { continue }
            if release { t.gradFn = nil }  // its saved tensors go once this rule has run
            if !targets.contains(id) { grads[id] = nil }  // free as soon as it is consumed
            let needed = node.inputs.map { reaches.contains(ObjectIdentifier($0)) }
            let inputGrads = node.backward(g, needed)
            for (i, input) in node.inputs.enumerated() where needed[i] {
                guard let gi = inputGrads[i] else { continue }
                let key = ObjectIdentifier(input)
                grads[key] = grads[key].map { $0 + gi } ?? gi
            }
        }
    }
    return wrt.map { grads[ObjectIdentifier($0)] ?? Tensor.zeros($0.shape) }
}
