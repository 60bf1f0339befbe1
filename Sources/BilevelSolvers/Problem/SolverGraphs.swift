import BilevelCore
import BilevelFrontEnd

/// Which fixed-step inner solver a program unrolls, with its settings as graph nodes.
public enum StepRule: Sendable {
  case gd(lr: NodeID)
  case momentum(lr: NodeID, momentum: NodeID)
  case adam(lr: NodeID, beta1: Double, beta2: Double, eps: Double)
  /// θ ← θ + update, with the input `gradient` in the update standing for ∇θ L_in;
  /// each recurrent state ← its next value (`state h: ... then ...`).
  case rule(update: NodeID, gradient: NodeID, states: [(previous: NodeID, next: NodeID)])
  /// One RK4 step of the gradient flow dθ/dt = −∇θ L_in, of length horizon/steps.
  case flow(horizon: NodeID, steps: Int)
}

/// Every graph the solvers evaluate, derived symbolically into one program:
/// the losses and their gradients, the inner Hessian-vector and mixed
/// products, one step of the inner solver over its whole state (θ plus
/// optimizer state) with its vector-Jacobian and Jacobian-vector products,
/// the fixpoint map's products, and the initial point θ₀(φ) with its products.
///
/// Products of the inner problem are per task: they are differentiated as if
/// each task were alone, so their φ parts are one task's contribution, which
/// the solvers add up over tasks in a fixed order. The outer loss is
/// differentiated over all tasks.
struct SolverGraphs {
  var program: Program
  let innerVariables: [Int]
  let outerVariables: [Int]
  /// Input leaves, one per inner variable unless said otherwise.
  var direction: [NodeID] = []  // v of H v and of the mixed product
  var optimizerState: [NodeID] = []  // velocity, or first then second moments
  var cotangent: [NodeID] = []  // over the step state
  var stateTangent: [NodeID] = []  // over the step state
  var outerTangent: [NodeID] = []  // one per outer variable
  /// Per-step scalars loaded with each step: Adam's 1/(1 − β^k) (two), then a
  /// schedule's factor on lr (one), each only when the solver has it.
  var biasCorrection: [NodeID] = []
  var rateScale: NodeID?
  /// Σ ‖∇θ L_in‖² at the step's θ, for a solver that stops at a tolerance.
  var stepGradientNorm: [NodeID] = []
  var theta: [NodeID] = []
  var phi: [NodeID] = []

  // Derived roots (empty when the program has no such part).
  var innerLoss: [NodeID] = []
  var innerGradient: [NodeID] = []
  var innerGradientOuter: [NodeID] = []
  var hessianVector: [NodeID] = []
  var mixed: [NodeID] = []
  /// H v + (∂∇θ L_in/∂φ) φ̇: an adaptive flow's tangent field (only for one).
  var gradientTangent: [NodeID] = []
  var stepRule: StepRule?
  var step: [NodeID] = []
  var stepPullback: [NodeID] = []  // (∂Φ/∂s)ᵀ u
  var stepOuterPullback: [NodeID] = []  // (∂Φ/∂φ)ᵀ u
  var stepTangent: [NodeID] = []  // (∂Φ/∂s) ṡ + (∂Φ/∂φ) φ̇
  /// Products of the step that its pullback would compute again (X θ, Xᵀ r):
  /// the step plan outputs them, the tape keeps them, and the taped
  /// pullback reads them as inputs instead of recomputing them.
  var residuals: [NodeID] = []
  var residualInputs: [NodeID] = []
  var tapedPullback: [NodeID] = []
  var tapedOuterPullback: [NodeID] = []
  var fixpointMap: [NodeID] = []
  var fixpointPullback: [NodeID] = []
  var fixpointOuterPullback: [NodeID] = []
  var initial: [NodeID] = []
  /// A rule's recurrent states at their starts (constants).
  var ruleStateInitial: [NodeID] = []
  // gd's lr (for finite_difference) or flow's horizon (for adjoint), and its ∇φ.
  var learningRate: [NodeID] = []
  var learningRateGradient: [NodeID] = []
  var initialOuterPullback: [NodeID] = []
  var initialTangent: [NodeID] = []
  var outerLoss: [NodeID] = []
  var outerGradientInner: [NodeID] = []
  var outerGradientOuter: [NodeID] = []
  // A proxy's graphs (SolverGraphs+Proxy.swift); α is the parameters' input leaves.
  var proxyParameters: [NodeID] = []
  var proxyMap: [NodeID] = []
  var proxyTrainingLoss: [NodeID] = []
  var proxyTrainingGradient: [NodeID] = []
  var proxyLinearTrainingLoss: [NodeID] = []
  var proxyLinearTrainingGradient: [NodeID] = []
  var proxyOuterLoss: [NodeID] = []
  var proxyOuterGradient: [NodeID] = []

  init(_ source: Program) {
    program = source
    innerVariables = source.variables(.inner)
    outerVariables = source.variables(.outer)
    theta = innerVariables.map {
      program.graph.make(.variable($0), shape: program.variables[$0].shape)
    }
    phi = outerVariables.map {
      program.graph.make(.variable($0), shape: program.variables[$0].shape)
    }
    stepRule = Self.stepRule(&program)
    direction = innerInputs("v")
    switch stepRule {
    case .momentum: optimizerState = innerInputs("velocity")
    case .rule(_, _, let states): optimizerState = states.map(\.previous)
    case .adam:
      optimizerState = innerInputs("first_moment") + innerInputs("second_moment")
      biasCorrection = [
        input("bias_correction_1", .scalar, perTask: false),
        input("bias_correction_2", .scalar, perTask: false),
      ]
    default: break
    }
    if stepRule != nil && source.innerControls.isScheduled {
      let scale = input("rate_scale", .scalar, perTask: false)
      rateScale = scale
      biasCorrection.append(scale)
    }
    let state = theta + optimizerState
    cotangent = state.enumerated().map { k, s in
      input("u\(k)", program.graph.shape(s), perTask: isPerTask(k % theta.count))
    }
    stateTangent = state.enumerated().map { k, s in
      input("tangent\(k)", program.graph.shape(s), perTask: isPerTask(k % theta.count))
    }
    outerTangent = outerVariables.map {
      input(
        "outer_tangent_" + program.variables[$0].name, program.variables[$0].shape, perTask: false)
    }
    deriveInner()
    deriveOuter()
    deriveProxy()
  }

  func isPerTask(_ innerIndex: Int) -> Bool {
    program.variables[innerVariables[innerIndex]].perTask
  }

  mutating func input(_ name: String, _ shape: Shape, perTask: Bool) -> NodeID {
    program.inputs.append(InputEntry(name: name, shape: shape, perTask: perTask))
    return program.graph.make(.input(program.inputs.count - 1), shape: shape)
  }

  mutating func innerInputs(_ prefix: String) -> [NodeID] {
    innerVariables.map { i in
      let v = program.variables[i]
      return input("\(prefix)_\(v.name)", v.shape, perTask: v.perTask)
    }
  }

  static func stepRule(_ p: inout Program) -> StepRule? {
    guard let s = p.innerSolver?.spec, p.innerLoss != nil else { return nil }
    switch s {
    case .gd(let lr, _): return .gd(lr: lr)
    case .momentum(let lr, let mu, _): return .momentum(lr: lr, momentum: mu)
    case .adam(let lr, let m, _): return .adam(lr: lr, beta1: m.beta1, beta2: m.beta2, eps: m.eps)
    case .rule(let update, _):
      guard let k = p.ruleGradientInput else { return nil }
      let states = p.ruleStates.map { s in
        (previous: p.graph.make(.input(s.previous), shape: s.shape), next: s.next)
      }
      return .rule(
        update: update, gradient: p.graph.make(.input(k), shape: p.inputs[k].shape),
        states: states)
    case .flow(let horizon, let steps, _): return .flow(horizon: horizon, steps: steps)
    case .newton, .fixpoint: return nil
    }
  }

  /// The per-task products: inner loss, its gradients and second-order
  /// products, the solver step, the fixpoint map and the initial point.
  mutating func deriveInner() {
    var d = Differentiator(graph: program.graph)
    if let loss = program.innerLoss {
      innerLoss = [loss]
      innerGradient = d.gradient(of: loss, wrt: theta)
      innerGradientOuter = d.gradient(of: loss, wrt: phi)
      hessianVector = d.jacobianVectorProduct(of: innerGradient, wrt: theta, along: direction)
      mixed = d.jacobianVectorProduct(of: innerGradientOuter, wrt: theta, along: direction)
      if case .flow(_, _, _?)? = program.innerSolver?.spec {
        gradientTangent = d.jacobianVectorProduct(
          of: innerGradient, wrt: theta + phi, along: direction + outerTangent)
      }
    }
    if let rule = stepRule {
      let before = d.graph.count
      let controls = program.innerControls
      let gradient = Self.clipped(innerGradient, to: controls.clip, &d.builder)
      if controls.tolerance != nil {
        stepGradientNorm = [Self.squaredNorm(innerGradient, &d.builder)]
      }
      step = Self.step(
        Self.scaled(rule, by: rateScale, &d.builder), &d.builder, theta: theta, gradient: gradient,
        state: optimizerState, bias: biasCorrection)
      // The update's own arithmetic (moments, velocity) is the solver's: a
      // fault there points at its statement, never at an internal leaf.
      d.giveOrigin(program.innerSolver?.range, toNodesFrom: before)
      let state = theta + optimizerState
      stepPullback = d.vectorJacobianProduct(of: step, cotangents: cotangent, wrt: state)
      stepOuterPullback = d.vectorJacobianProduct(of: step, cotangents: cotangent, wrt: phi)
      stepTangent = d.jacobianVectorProduct(
        of: step, wrt: state + phi, along: stateTangent + outerTangent)
      cutResiduals(&d.builder, state: state)
      if case .gd(let lr) = rule, d.graph.shape(lr).isScalar {
        learningRate = [lr]
        learningRateGradient = d.gradient(of: lr, wrt: phi)
      }
      if case .flow(let horizon, _) = rule {
        learningRate = [horizon]
        learningRateGradient = d.gradient(of: horizon, wrt: phi)
      }
    }
    if let f = program.innerFixpoint, let z = theta.first, let u = cotangent.first {
      fixpointMap = [f.map]
      fixpointPullback = d.vectorJacobianProduct(of: [f.map], cotangents: [u], wrt: [z])
      fixpointOuterPullback = d.vectorJacobianProduct(of: [f.map], cotangents: [u], wrt: phi)
    }
    initial = innerVariables.map { program.variables[$0].initial }
    ruleStateInitial = program.ruleStates.map(\.initial)
    let u = Array(cotangent.prefix(theta.count))
    initialOuterPullback = d.vectorJacobianProduct(of: initial, cotangents: u, wrt: phi)
    initialTangent = d.jacobianVectorProduct(of: initial, wrt: phi, along: outerTangent)
    program.graph = d.graph
  }

  /// Rebuilds the step's pullback with the costly matrix products and solves
  /// that the step itself computes from the state replaced by input leaves.
  mutating func cutResiduals(_ b: inout Rewriter, state: [NodeID]) {
    let forward = Set(b.graph.reachable(from: step + innerLoss))
    let pullbackRoots = stepPullback + stepOuterPullback
    let order = b.graph.reachable(from: pullbackRoots)
    let dependsOnState = b.graph.dependence(onNodes: state)
    let varying = b.graph.taskVarying(isPerTaskLeaf: program.isPerTaskLeaf)
    var cut: [(node: NodeID, input: NodeID)] = []
    for id in order {
      let node = b.graph[id]
      // Worth a place on the tape: a solve, or a product that costs at least
      // 32 flops per entry it stores (inner dimension k ≥ 16, from
      // |A|·|B|/|C| = k²); cheaper products are recomputed.
      let heavy: Bool
      switch node.op {
      case .solve: heavy = true
      case .matmul:
        let k2 =
          Double(b.graph.shape(node.inputs[0]).count) * Double(b.graph.shape(node.inputs[1]).count)
          / Double(max(1, node.shape.count))
        heavy = k2 >= 256
      default: heavy = false
      }
      guard heavy && forward.contains(id) && dependsOnState[id] else { continue }
      program.inputs.append(
        InputEntry(
          name: "residual\(cut.count)", shape: node.shape,
          perTask: program.tasks != nil && varying[id]))
      cut.append((id, b.node(.input(program.inputs.count - 1), [], shape: node.shape)))
    }
    let replacements = Dictionary(uniqueKeysWithValues: cut.map { ($0.node, $0.input) })
    tapedPullback = Self.substitute(stepPullback, replacements, &b)
    tapedOuterPullback = Self.substitute(stepOuterPullback, replacements, &b)
    // Keep only the residuals the rebuilt pullback still reads.
    let used = Set(b.graph.reachable(from: tapedPullback + tapedOuterPullback))
    for c in cut where used.contains(c.input) {
      residuals.append(c.node)
      residualInputs.append(c.input)
    }
  }

  /// Σ_i ‖g_i‖² over the inner variables' gradients.
  static func squaredNorm(_ g: [NodeID], _ b: inout Rewriter) -> NodeID {
    g.map { b.reduce(.sum, .all, b.multiply($0, $0)) }.dropFirst().reduce(
      b.reduce(.sum, .all, b.multiply(g[0], g[0]))
    ) { b.add($0, $1) }
  }

  /// g · c / max(‖g‖, c): the gradient rescaled to norm c when longer. The
  /// max keeps a zero gradient's derivative finite (sqrt′(0) = 0 and c is taken).
  static func clipped(_ g: [NodeID], to clip: Double?, _ b: inout Rewriter) -> [NodeID] {
    guard let c = clip, !g.isEmpty else { return g }
    let norm = b.apply(.sqrt, squaredNorm(g, &b))
    let factor = b.divide(b.scalar(c), b.node(.binary(.maximum), [norm, b.scalar(c)]))
    return g.map { b.multiply($0, factor) }
  }

  /// The rule with its learning rate times a schedule's per-step factor.
  static func scaled(_ rule: StepRule, by scale: NodeID?, _ b: inout Rewriter) -> StepRule {
    guard let k = scale else { return rule }
    switch rule {
    case .gd(let lr): return .gd(lr: b.multiply(lr, k))
    case .momentum(let lr, let mu): return .momentum(lr: b.multiply(lr, k), momentum: mu)
    case .adam(let lr, let b1, let b2, let eps):
      return .adam(lr: b.multiply(lr, k), beta1: b1, beta2: b2, eps: eps)
    case .rule, .flow: return rule
    }
  }

  /// Each inner variable's learning rate: lr itself (a scalar, or one per
  /// entry of every variable's shape), or, when lr has one entry per entry of
  /// θ (all inner variables in order, row-major), its slice for the variable.
  static func rates(_ lr: NodeID, _ theta: [NodeID], _ b: inout Rewriter) -> [NodeID] {
    let shapes = theta.map { b.graph.shape($0) }
    let total = shapes.reduce(0) { $0 + $1.count }
    guard theta.count > 1, b.graph.shape(lr) == .vector(total) else {
      return theta.map { _ in lr }
    }
    var offset = 0
    return shapes.map { shape in
      let spec = SliceSpec(rows: offset..<(offset + shape.count), columns: 0..<1)
      offset += shape.count
      let part = b.node(.slice(spec), [lr], shape: .vector(shape.count))
      return shape == .vector(shape.count) ? part : b.reshape(part, shape)
    }
  }

  /// One inner step as graph nodes: the new state from the old.
  static func step(
    _ rule: StepRule, _ b: inout Rewriter, theta: [NodeID], gradient g: [NodeID], state: [NodeID],
    bias: [NodeID]
  ) -> [NodeID] {
    let n = theta.count
    switch rule {
    case .gd(let lr):
      let rate = rates(lr, theta, &b)
      return (0..<n).map { b.subtract(theta[$0], b.multiply(rate[$0], g[$0])) }
    case .momentum(let lr, let mu):
      let rate = rates(lr, theta, &b)
      let velocity = (0..<n).map { b.add(b.multiply(mu, state[$0]), g[$0]) }
      return (0..<n).map { b.subtract(theta[$0], b.multiply(rate[$0], velocity[$0])) } + velocity
    case .adam(let lr, let beta1, let beta2, let eps):
      let rate = rates(lr, theta, &b)
      let first = (0..<n).map {
        b.add(b.multiply(b.scalar(beta1), state[$0]), b.multiply(b.scalar(1 - beta1), g[$0]))
      }
      let second = (0..<n).map { k in
        b.add(
          b.multiply(b.scalar(beta2), state[n + k]),
          b.multiply(b.scalar(1 - beta2), b.multiply(g[k], g[k])))
      }
      let next = (0..<n).map { k -> NodeID in
        let mHat = b.multiply(first[k], bias[0])
        let root = b.apply(.sqrt, b.multiply(second[k], bias[1]))
        return b.subtract(
          theta[k], b.multiply(rate[k], b.divide(mHat, b.add(root, b.scalar(eps)))))
      }
      return next + first + second
    case .rule(let update, let input, let states):
      // The update and the states' next values as written, with ∇θ L_in in place of 'grad'.
      let next = substitute([update] + states.map(\.next), [input: g[0]], &b)
      return [b.add(theta[0], next[0])] + next.dropFirst()
    case .flow(let horizon, let steps):
      // RK4 stages: the gradient graph again at θ − c·dt·(previous stage).
      let dt = b.divide(horizon, b.scalar(Double(steps)))
      func gradient(at shift: [NodeID], _ c: Double) -> [NodeID] {
        let scale = b.multiply(b.scalar(c), dt)
        let point = (0..<n).map { b.subtract(theta[$0], b.multiply(scale, shift[$0])) }
        return substitute(g, Dictionary(uniqueKeysWithValues: zip(theta, point)), &b)
      }
      let g2 = gradient(at: g, 0.5)
      let g3 = gradient(at: g2, 0.5)
      let g4 = gradient(at: g3, 1)
      let sixth = b.divide(dt, b.scalar(6))
      return (0..<n).map { k in
        let sum = b.add(b.add(g[k], g4[k]), b.multiply(b.scalar(2), b.add(g2[k], g3[k])))
        return b.subtract(theta[k], b.multiply(sixth, sum))
      }
    }
  }

  /// `root` rebuilt with some nodes replaced (derivative graphs are plain
  /// nodes, so a placeholder leaf can stand for one until it is known).
  static func substitute(
    _ roots: [NodeID], _ replacements: [NodeID: NodeID], _ b: inout Rewriter
  ) -> [NodeID] {
    var mapped = replacements
    for id in b.graph.reachable(from: roots) where mapped[id] == nil {
      let node = b.graph[id]
      mapped[id] =
        node.op.isLeaf ? id : b.node(node.op, node.inputs.map { mapped[$0]! }, shape: node.shape)
    }
    return roots.map { mapped[$0]! }
  }

  /// The outer loss and its gradients, over all tasks.
  mutating func deriveOuter() {
    guard let loss = program.outerLoss else { return }
    var d = Differentiator(
      graph: program.graph, tasks: program.tasks?.count ?? 1, isPerTaskLeaf: program.isPerTaskLeaf)
    outerLoss = [loss]
    outerGradientInner = d.gradient(of: loss, wrt: theta)
    outerGradientOuter = d.gradient(of: loss, wrt: phi)
    program.graph = d.graph
  }
}
