/// The signatures of the functions BilevelProblem compiles. Vectors: θ is
/// one task's inner variables, φ the outer ones, s a step's state (θ then
/// the optimizer state), u a cotangent, and a dot a tangent.

/// [θ, φ] → [∇θ L_in, L_in].
public enum InnerGradient: FunctionSignature {
  public enum Argument: Int, CaseIterable { case theta, phi }
  public enum Result: Int, CaseIterable { case gradient, loss }
}

/// [θ, φ] → [∇φ L_in (this task's part), L_in].
public enum InnerGradientOuter: FunctionSignature {
  public enum Argument: Int, CaseIterable { case theta, phi }
  public enum Result: Int, CaseIterable { case gradient, loss }
}

/// [θ, φ, v] → [H v], H the Hessian of L_in in θ.
public enum HessianVectorProduct: FunctionSignature {
  public enum Argument: Int, CaseIterable { case theta, phi, direction }
  public enum Result: Int, CaseIterable { case product }
}

/// [θ, φ, v] → [(∂²L_in/∂φ∂θ) v].
public enum MixedProduct: FunctionSignature {
  public enum Argument: Int, CaseIterable { case theta, phi, direction }
  public enum Result: Int, CaseIterable { case product }
}

/// [θ, φ, v, φ̇] → [H v + (∂²L_in/∂θ∂φ) φ̇]: the tangent of ∇θ L_in.
public enum GradientTangent: FunctionSignature {
  public enum Argument: Int, CaseIterable { case theta, phi, direction, outerTangent }
  public enum Result: Int, CaseIterable { case product }
}

/// A step-family function: it reads Adam's bias corrections (empty for the
/// other solvers), which the runner loads for each step.
public protocol BiasCorrectedSignature: FunctionSignature {
  static var biasCorrection: Argument { get }
}

/// [s, φ, bias] → [Φ(s), L_in(θ), residuals (what the taped pullback reads)].
public enum InnerStep: BiasCorrectedSignature {
  public enum Argument: Int, CaseIterable { case state, phi, biasCorrection }
  /// squaredGradientNorm: Σ ‖∇θ L_in‖² at s's θ, only for a solver with a tolerance.
  public enum Result: Int, CaseIterable { case next, loss, residuals, squaredGradientNorm }
  public static var biasCorrection: Argument { .biasCorrection }
}

/// [s, φ, bias, u, residuals] → [(∂Φ/∂s)ᵀ u, (∂Φ/∂φ)ᵀ u], reading the step's
/// matrix products from the tape.
public enum TapedStepPullback: BiasCorrectedSignature {
  public enum Argument: Int, CaseIterable { case state, phi, biasCorrection, cotangent, residuals }
  public enum Result: Int, CaseIterable { case stateCotangent, outerCotangent }
  public static var biasCorrection: Argument { .biasCorrection }
}

/// [s, φ, bias, ṡ, φ̇] → [(∂Φ/∂s) ṡ + (∂Φ/∂φ) φ̇].
public enum StepTangent: BiasCorrectedSignature {
  public enum Argument: Int, CaseIterable {
    case state, phi, biasCorrection, stateTangent, outerTangent
  }
  public enum Result: Int, CaseIterable { case tangent }
  public static var biasCorrection: Argument { .biasCorrection }
}

/// [z, φ] → [E(z, φ)].
public enum FixpointMap: FunctionSignature {
  public enum Argument: Int, CaseIterable { case point, phi }
  public enum Result: Int, CaseIterable { case image }
}

/// [z, φ, u] → [(∂E/∂z)ᵀ u, (∂E/∂φ)ᵀ u].
public enum FixpointPullback: FunctionSignature {
  public enum Argument: Int, CaseIterable { case point, phi, cotangent }
  public enum Result: Int, CaseIterable { case pointCotangent, outerCotangent }
}

/// [φ] → [θ₀(φ), a rule's states at their starts (empty for other solvers)].
public enum InitialPoint: FunctionSignature {
  public enum Argument: Int, CaseIterable { case phi }
  public enum Result: Int, CaseIterable { case theta, state }
}

/// [φ, u] → [(∂θ₀/∂φ)ᵀ u].
public enum InitialPointPullback: FunctionSignature {
  public enum Argument: Int, CaseIterable { case phi, cotangent }
  public enum Result: Int, CaseIterable { case outerCotangent }
}

/// [φ, φ̇] → [(∂θ₀/∂φ) φ̇].
public enum InitialPointTangent: FunctionSignature {
  public enum Argument: Int, CaseIterable { case phi, outerTangent }
  public enum Result: Int, CaseIterable { case tangent }
}

/// [φ] → [lr, ∇φ lr] of gradient descent, or a gradient flow's horizon and its ∇φ.
public enum LearningRate: FunctionSignature {
  public enum Argument: Int, CaseIterable { case phi }
  public enum Result: Int, CaseIterable { case rate, gradient }
}

/// [θ of every task, φ] → [L_out, ∂L_out/∂φ].
public enum OuterGradient: FunctionSignature {
  public enum Argument: Int, CaseIterable { case allTheta, phi }
  public enum Result: Int, CaseIterable { case loss, gradient }
}

/// [θ of every task, φ] → [L_out].
public enum OuterLoss: FunctionSignature {
  public enum Argument: Int, CaseIterable { case allTheta, phi }
  public enum Result: Int, CaseIterable { case loss }
}

/// [θ of every task, φ] → [the program's reports, one scalar each].
public enum Reports: FunctionSignature {
  public enum Argument: Int, CaseIterable { case allTheta, phi }
  public enum Result: Int, CaseIterable { case values }
}

/// [θ of every task, φ] → [∂L_out/∂θ of one task].
public enum OuterGradientInner: FunctionSignature {
  public enum Argument: Int, CaseIterable { case allTheta, phi }
  public enum Result: Int, CaseIterable { case gradient }
}

/// [α, φ] → [P_α(φ)]: a proxy's θ (every inner variable).
public enum ProxyMap: FunctionSignature {
  public enum Argument: Int, CaseIterable { case parameters, phi }
  public enum Result: Int, CaseIterable { case theta }
}

/// [α, φ, δ] → [L_in(P̃, φ + δ), its gradient in α], P̃ the proxy at φ + δ
/// (or its first-order expansion about φ, for the linearized variant).
public enum ProxyTraining: FunctionSignature {
  public enum Argument: Int, CaseIterable { case parameters, phi, shift }
  public enum Result: Int, CaseIterable { case loss, gradient }
}

/// [α, φ] → [L_out(P_α(φ), φ), its total gradient in φ].
public enum ProxyOuterGradient: FunctionSignature {
  public enum Argument: Int, CaseIterable { case parameters, phi }
  public enum Result: Int, CaseIterable { case loss, gradient }
}
