import BilevelCore
import BilevelFrontEnd

extension SolverGraphs {
  /// A proxy's graphs (survey §4.2, eq. 33), when every inner variable has a
  /// `proxy`: P_α(φ); the training loss L_in(P̃, φ + δ), where P̃ is
  /// P_α(φ + δ) or, linearized (Bae & Grosse 2020), P_α(φ) + (∂P_α/∂φ) δ,
  /// with its gradient in α; and L_out(P_α(φ), φ) with its gradient in φ,
  /// which is the proxy's hypergradient: ∂L_out/∂φ + (∂P_α/∂φ)ᵀ ∂L_out/∂θ.
  mutating func deriveProxy() {
    let proxies = innerVariables.compactMap { v in program.proxies.first { $0.variable == v } }
    guard !proxies.isEmpty, proxies.count == innerVariables.count,
      let innerLoss = program.innerLoss, let outerLoss = program.outerLoss
    else { return }
    var d = Differentiator(graph: program.graph)
    proxyParameters = proxies.flatMap { p in
      p.parameters.map { d.builder.node(.input($0.input), [], shape: $0.shape) }
    }
    let maps = proxies.map(\.map)
    proxyMap = maps
    let shifted = phi.indices.map { d.builder.add(phi[$0], outerTangent[$0]) }
    let atShift = Dictionary(uniqueKeysWithValues: zip(phi, shifted))
    // Rebuilt nodes keep their originals' ranges, so a fault in training points at the program.
    var rebuilt: [(new: NodeID, old: NodeID)] = []
    func substitute(_ roots: [NodeID], _ replacements: [NodeID: NodeID]) -> [NodeID] {
      var mapped = replacements
      for id in d.graph.reachable(from: roots) where mapped[id] == nil {
        let node = d.graph[id]
        if node.op.isLeaf {
          mapped[id] = id
          continue
        }
        let new = d.builder.node(node.op, node.inputs.map { mapped[$0]! }, shape: node.shape)
        rebuilt.append((new, id))
        mapped[id] = new
      }
      return roots.map { mapped[$0]! }
    }
    let moved = substitute(maps, atShift)
    let change = d.jacobianVectorProduct(of: maps, wrt: phi, along: outerTangent)
    let expanded = maps.indices.map { d.builder.add(maps[$0], change[$0]) }
    func training(_ proxy: [NodeID]) -> NodeID {
      var replacements = atShift
      for (t, p) in zip(theta, proxy) { replacements[t] = p }
      return substitute([innerLoss], replacements)[0]
    }
    let local = training(moved)
    proxyTrainingLoss = [local]
    proxyTrainingGradient = d.gradient(of: local, wrt: proxyParameters)
    let linear = training(expanded)
    proxyLinearTrainingLoss = [linear]
    proxyLinearTrainingGradient = d.gradient(of: linear, wrt: proxyParameters)
    let outer = substitute([outerLoss], Dictionary(uniqueKeysWithValues: zip(theta, maps)))[0]
    proxyOuterLoss = [outer]
    proxyOuterGradient = d.gradient(of: outer, wrt: phi)
    program.graph = d.graph
    for (new, old) in rebuilt { program.graph.inheritOrigin(new, from: program.graph.origin(old)) }
  }
}

extension BilevelProblem {
  /// Entries of α, every proxy's parameters in inner-variable order (0 without proxies).
  public var proxyParameterSize: Int {
    graphs.proxyParameters.reduce(0) { $0 + program.graph.shape($1).count }
  }

  /// Whether every inner variable has a proxy (the proxy method applies).
  public var hasProxy: Bool { !graphs.proxyMap.isEmpty }

  /// α as declared: the start of its training.
  public func initialProxyParameters() -> [Double] {
    let e = ProgramEvaluation(initialPointOf: source)
    let order = graphs.innerVariables.compactMap { v in source.proxies.first { $0.variable == v } }
    return order.flatMap { p in p.parameters.flatMap { e.evaluate($0.initial).scalars } }
  }

  public var proxyMap: Compiled<ProxyMap> {
    build(functions[0], \.proxyMap) {
      Compiled(
        program, constants: constants, task: nil,
        arguments: {
          switch $0 {
          case .parameters: leaves(graphs.proxyParameters, task: 0)
          case .phi: phi
          }
        },
        results: {
          switch $0 {
          case .theta: graphs.proxyMap
          }
        })
    }
  }

  /// The training loss and its α-gradient; `linearized`: of the expanded proxy.
  public func proxyTraining(linearized: Bool) -> Compiled<ProxyTraining> {
    build(functions[0], linearized ? \.proxyLinearTraining : \.proxyTraining) {
      Compiled(
        program, constants: constants, task: nil,
        arguments: {
          switch $0 {
          case .parameters: leaves(graphs.proxyParameters, task: 0)
          case .phi: phi
          case .shift: leaves(graphs.outerTangent, task: 0)
          }
        },
        results: {
          switch $0 {
          case .loss: linearized ? graphs.proxyLinearTrainingLoss : graphs.proxyTrainingLoss
          case .gradient:
            linearized ? graphs.proxyLinearTrainingGradient : graphs.proxyTrainingGradient
          }
        })
    }
  }

  public var proxyOuterGradient: Compiled<ProxyOuterGradient> {
    build(functions[0], \.proxyOuterGradient) {
      Compiled(
        program, constants: constants, task: nil,
        arguments: {
          switch $0 {
          case .parameters: leaves(graphs.proxyParameters, task: 0)
          case .phi: phi
          }
        },
        results: {
          switch $0 {
          case .loss: graphs.proxyOuterLoss
          case .gradient: graphs.proxyOuterGradient
          }
        })
    }
  }
}
