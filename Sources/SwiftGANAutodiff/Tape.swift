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

/// Where an op's input sends its gradient: the node that produced it, or the leaf itself (a tensor that
/// gradients can be asked for), or nowhere (a constant).
///
/// The tape links nodes, not tensors: an input's values stay alive only if the rule that needs them
/// captures the tensor. An intermediate that no rule reads (the input of an addition, of a transposed
/// convolution in its data, of a mask) is freed as soon as the forward pass is done with it.
enum Edge {
    case node(Node)
    case leaf(Tensor)
    case constant

    init(_ t: Tensor) {
        if let node = t.gradFn { self = .node(node) } else if t.requiresGrad { self = .leaf(t) } else { self = .constant }
    }

    /// The key of the gradient that flows along this edge (a node's or a leaf's identity).
    var key: ObjectIdentifier? {
        switch self {
        case .node(let n): return ObjectIdentifier(n)
        case .leaf(let t): return ObjectIdentifier(t)
        case .constant: return nil
        }
    }
}

/// One recorded op: where its inputs' gradients go and the rule mapping the output's gradient to them.
/// The rule receives which inputs need a gradient and returns `nil` for the others; it is written with
/// differentiable ops, and captures the tensors whose values it reads.
final class Node {
    let edges: [Edge]
    /// Nil once a backward pass that does not retain the graph has run it (its saved tensors freed).
    var backward: ((_ gradOutput: Tensor, _ needed: [Bool]) -> [Tensor?])?

    init(edges: [Edge], backward: @escaping (Tensor, [Bool]) -> [Tensor?]) {
        self.edges = edges
        self.backward = backward
    }
}

/// Attaches a tape node to `output` when recording and any input is differentiable.
@inline(__always)
package func record(_ output: Tensor, _ inputs: [Tensor], _ backward: @escaping (Tensor, [Bool]) -> [Tensor?]) -> Tensor {
    if GradMode.isEnabled, inputs.contains(where: { $0.isDifferentiable }) {
        output.tapeNode = Node(edges: inputs.map(Edge.init), backward: backward)
    }
    return output
}

extension Tensor {
    /// The tape node that produced this tensor, if it was recorded (only this layer sets `tapeNode`, always to a Node).
    var gradFn: Node? { tapeNode.map { unsafeDowncast($0, to: Node.self) } }

    /// The key its gradient is kept under: its node's identity, or its own for a leaf.
    var gradientKey: ObjectIdentifier { gradFn.map(ObjectIdentifier.init) ?? ObjectIdentifier(self) }
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
///     node's rule once it has run, so the tensors it saved are freed during the backward pass rather than
///     after it. Without `createGraph` only.
/// - Returns: one gradient per `wrt` entry; zeros where `y` does not depend on it.
public func gradients(of y: Tensor, wrt: [Tensor], seed: Tensor? = nil, createGraph: Bool = false,
                      retainGraph: Bool = true) -> [Tensor] {
    gradients(of: y, wrt: wrt, seed: seed, createGraph: createGraph, retainGraph: retainGraph, partial: false)
}

/// `gradients(of:wrt:...)`; with `partial`, the partial derivatives in `wrt` taken as independent inputs:
/// the walk stops at them, so no gradient flows through one requested tensor into another (the local
/// rule of an op whose own graph is inside it, `recomputingIntermediate`), and at the tensors of `cut` too,
/// whose gradients are not asked for: an op's inner graph ends there even where the graph before it leads
/// to a requested tensor again (in a recorded backward pass, a gradient that depends on the weight asked for).
func gradients(of y: Tensor, wrt: [Tensor], seed: Tensor?, createGraph: Bool, retainGraph: Bool,
               partial: Bool, cut: [Tensor] = []) -> [Tensor] {
    let targets = Set(wrt.map(\.gradientKey)), stops = targets.union(cut.map(\.gradientKey))
    var grads: [ObjectIdentifier: Tensor] = [y.gradientKey: seed ?? Tensor.ones(y.shape)]
    guard let root = y.gradFn else {  // a leaf or a constant: its own gradient is the seed
        return wrt.map { $0 === y && y.requiresGrad ? grads[y.gradientKey]! : Tensor.zeros($0.shape) }
    }

    // Topological order of the nodes reachable from y (inputs before users).
    var order: [Node] = []
    var visited: Set<ObjectIdentifier> = [ObjectIdentifier(root)]
    var stack: [(Node, Int)] = [(root, 0)]
    while let (n, next) = stack.popLast() {
        let edges = partial && stops.contains(ObjectIdentifier(n)) ? [] : n.edges
        if next < edges.count {
            stack.append((n, next + 1))
            if case .node(let m) = edges[next], visited.insert(ObjectIdentifier(m)).inserted { stack.append((m, 0)) }
        } else {
            order.append(n)
        }
    }

    // Which nodes lie on a path to a requested tensor.
    var reaches = Set<ObjectIdentifier>()
    func leadsToTarget(_ e: Edge) -> Bool {
        switch e {
        case .node(let m): return reaches.contains(ObjectIdentifier(m))
        case .leaf(let t): return targets.contains(ObjectIdentifier(t))
        case .constant: return false
        }
    }
    for n in order where targets.contains(ObjectIdentifier(n)) || n.edges.contains(where: leadsToTarget) {
        reaches.insert(ObjectIdentifier(n))
    }
    let release = !retainGraph && !createGraph

    GradMode.with(enabled: createGraph) {
        for n in order.reversed() {
            let id = ObjectIdentifier(n)
            guard let rule = n.backward else { continue }
            if release, !(partial && stops.contains(id) && !targets.contains(id)) {
                n.backward = nil  // its saved tensors go once this rule has run (a cut node's rule has not run)
            }
            guard reaches.contains(id), let g = grads[id], !(partial && targets.contains(id)) else { continue }
            if !targets.contains(id) { grads[id] = nil }  // free as soon as it is consumed
            let needed = n.edges.map(leadsToTarget)
            let inputGrads = rule(g, needed)
            for (i, edge) in n.edges.enumerated() where needed[i] {
                guard let gi = inputGrads[i], let key = edge.key else { continue }
                grads[key] = grads[key].map { $0 + gi } ?? gi
            }
        }
    }
    return wrt.map { grads[$0.gradientKey] ?? Tensor.zeros($0.shape) }
}
