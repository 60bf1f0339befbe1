import BilevelCore

extension BilevelProblem {
  /// What the run's plans hold of values computed from data alone (XᵀX, Xᵀy)
  /// beyond the data, sized before any plan is built: over the products the
  /// methods evaluate (losses, gradients, second-order products, the step
  /// and its taped pullback, the fixpoint map's products).
  public var hoistedConstants: HoistedConstants {
    let g = graphs
    let roots =
      g.innerLoss + g.innerGradient + g.innerGradientOuter + g.hessianVector + g.mixed
      + g.step + g.tapedPullback + g.tapedOuterPullback + g.fixpointMap + g.fixpointPullback
      + g.fixpointOuterPullback + g.outerLoss + g.outerGradientInner + g.outerGradientOuter
    return HoistedConstants(program, roots: roots)
  }
}
