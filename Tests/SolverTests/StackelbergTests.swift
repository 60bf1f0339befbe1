import BilevelFrontEnd
import BilevelSolvers
import TestSupport
import Testing

/// The Stackelberg duopoly of samples/stackelberg_forward.blv, solved by
/// BilevelRun, reaches the leader's optimum derived by hand:
///   follower: max_θ (a − b(φ + θ)) θ − cf θ²  ⇒  θ*(φ) = (a − bφ) / (2b + 2cf);
///   leader:   max_φ (a − b(φ + θ*(φ))) φ − cl φ², with s = b / (2b + 2cf),
///             price = (1 − s)(a − bφ)  ⇒  φ* = (1 − s) a / (2b(1 − s) + 2cl).
@Suite struct StackelbergTests {
  static let (a, b, cf, cl) = (10.0, 1.0, 0.5, 0.25)

  static func text(method: String, inner: String = "gd(lr: 0.1, steps: 120)") -> String {
    """
    data a = \(a)
    data b = \(b)
    data cf = \(cf)
    data cl = \(cl)
    def price(q) = a - b * q
    outer phi: scalar = 1 in [0, 10]
    inner theta: scalar = 0
    inner loss = -(price(phi + theta) * theta - cf * theta^2)
    outer loss = -(price(phi + theta) * phi - cl * phi^2)
    solve inner with \(inner)
    hypergradient with \(method)
    solve outer with gd(lr: 0.5, steps: 40)
    """
  }

  static var leader: Double {
    let s = b / (2 * b + 2 * cf)
    return (1 - s) * a / (2 * b * (1 - s) + 2 * cl)
  }

  static func follower(_ phi: Double) -> Double { (a - b * phi) / (2 * b + 2 * cf) }

  static func leaderProfit(_ phi: Double) -> Double {
    (a - b * (phi + follower(phi))) * phi - cl * phi * phi
  }

  @Test func handDerivedOptimumIsTheLeadersBest() {
    // 40/11 for these prices and costs; no nearby quantity does better.
    #expect(abs(Self.leader - 40.0 / 11.0) <= 1e-15)
    let best = Self.leaderProfit(Self.leader)
    for delta in [-1e-2, -1e-4, 1e-4, 1e-2] {
      #expect(Self.leaderProfit(Self.leader + delta) < best)
    }
  }

  @Test(arguments: [
    // The sample's own inner solver: 0.7⁶⁰ ≈ 5e-10 off θ*.
    ("unroll(forward)", "gd(lr: 0.1, steps: 60)"),
    ("unroll(forward)", "gd(lr: 0.1, steps: 120)"),
    ("unroll(reverse)", "gd(lr: 0.1, steps: 120)"),
    ("unroll(reverse, checkpoints: 3)", "momentum(lr: 0.05, steps: 150, momentum: 0.5)"),
    ("implicit(exact)", "newton(tol: 1e-12)"),
    ("closed_form", "gd(lr: 0.1, steps: 120)"),
  ])
  func bilevelRunReachesTheLeadersOptimum(_ method: String, _ inner: String) throws {
    let problem = try SolverFixtures.problem(Self.text(method: method, inner: inner))
    let program = problem.source
    let setting = try #require(program.hypergradient)
    let hypergradient = try #require(setting.spec.method)
    var losses: [Double] = []
    let report = BilevelRun(problem: problem, method: hypergradient).run {
      losses.append($0.outerLoss); return true
    }
    #expect(report.fault == nil, "\(report.fault?.message ?? "")")
    #expect(report.stepsDone == 40)
    #expect(report.initialPhi == [1])
    #expect(
      abs(report.phi[0] - Self.leader) <= 1e-6,
      "\(method): φ = \(report.phi[0]), expected \(Self.leader)")
    let final = try #require(report.final)
    #expect(
      abs(final.theta[0][0] - Self.follower(report.phi[0])) <= 1e-6, "θ = \(final.theta[0][0])")
    #expect(abs(final.gradient[0]) <= 1e-6)
    // The outer loss is the leader's negated profit, and it fell to the optimum's.
    #expect(abs(final.outerLoss + Self.leaderProfit(Self.leader)) <= 1e-7)
    #expect(losses.count == 41)
    #expect(losses.last! < losses.first!)
  }
}
