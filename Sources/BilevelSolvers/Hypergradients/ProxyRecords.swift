import BilevelCore
import BilevelFrontEnd

/// The record of the hypernetwork proxy (survey §4.2, Table 6's "explicit
/// proxy update": training time t(d, m) plus inference i(d, m)).
extension HypernetworkProxy {
  static func description(_ s: ProxySettings) -> String {
    var parts = [
      s.mode.rawValue, "samples: \(s.samples)", "sigma: \(formatValue(s.sigma))",
    ]
    if s.mode == .global { parts.append("dist: \(s.uniform ? "uniform" : "normal")") }
    parts.append("steps: \(s.steps)")
    if s.mode != .global { parts.append("refit: \(s.refit)") }
    parts += ["lr: \(formatValue(s.lr))", "seed: \(s.seed)"]
    return "proxy(\(parts.joined(separator: ", ")))"
  }

  static func record(_ s: ProxySettings) -> MethodRecord {
    var record = MethodRecord(
      inapplicable: { sizes in
        if sizes.hasFixpoint {
          return "it trains its proxy on the inner loss, and an 'inner fixpoint' has none"
        }
        if sizes.tasks > 1 { return "proxies are for programs without tasks" }
        if !sizes.declaresProxy {
          return
            "the program declares no proxy θ ≈ P_α(φ) (as in 'proxy w = A @ phi + b with params A: matrix[d, m] = 0, b: vector[d] = 0')"
        }
        if let v = sizes.unproxied.first {
          return
            "the inner variable '\(v)' has no proxy; every inner variable needs one"
        }
        return nil
      },
      view: .solution,
      cost: { sizes in
        let (p, d, m, K) = (sizes.proxyParameters, sizes.inner, sizes.outer, s.samples)
        let doubles = saturatingSum(saturatingProduct(2, p), d, saturatingProduct(K + 1, m))
        let bytes = saturatingProduct(doubles, Bytes.double)
        let later =
          s.mode == .global ? "then held" : "then \(s.refit) per outer step from the last α"
        let what = s.mode == .linearized ? "the expanded proxy" : "P_α(φ + δ)"
        return MethodCost(
          label: "proxy(\(s.mode.rawValue))",
          time:
            "training t(d, m) = \(s.steps) steps (\(later)) × \(K) draws × ∇α L_in at \(what); inference i(d, m) = P_α(φ) + one outer gradient through it; + the inner solve for the fit",
          memoryBytes: bytes,
          memory:
            "α and its gradient (2 × \(p)) + d + (K + 1)·m = \(doubles) doubles = \(formatBytes(bytes)): O(d + m) beside α"
        )
      },
      checkedMap: { _ in .proxy(s) },
      checkFamily: .exact,
      compute: { problem, phi throws(SolverFault) in
        try HypernetworkProxy(problem: problem, settings: s).compute(
          phi, from: problem.initialProxyParameters(), steps: s.steps, draw: 0)
      })
    // Later outer steps continue from the last α: held (global) or refit on new draws.
    record.continuing = { problem, phi, k, previous throws(SolverFault) in
      let start = previous.proxy?.parameters ?? problem.initialProxyParameters()
      return try HypernetworkProxy(problem: problem, settings: s).compute(
        phi, from: start, steps: s.refit, draw: k)
    }
    return record
  }
}
