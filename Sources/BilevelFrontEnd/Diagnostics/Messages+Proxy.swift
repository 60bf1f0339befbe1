// MARK: Hypernetwork proxies (`proxy w = EXPR with params ...`)
extension Message {
  public static func proxyNeedsInnerVariable(_ name: String) -> Message {
    Message(
      "'\(name)' must be an inner variable declared before its proxy, as in 'inner \(name): vector[d] = 0'"
    )
  }
  public static func proxyShape(_ name: String, variable: String, proxy: String) -> Message {
    Message("the proxy for '\(name)' has shape \(proxy), but '\(name)' is \(variable)")
  }
  public static func proxyReadsInner(_ name: String, _ inner: String) -> Message {
    Message(
      "the proxy for '\(name)' reads the inner variable '\(inner)'; a proxy is a map of the outer variables and its parameters"
    )
  }
  public static var proxyWithTasks: Message {
    Message("proxies are for programs without 'tasks': each task would need its own parameters")
  }
  public static func proxyParameterShadows(_ name: String) -> Message {
    Message("proxy parameter '\(name)' has the name of a declaration; give it a name of its own")
  }
  public static func proxyParameterStart(_ name: String) -> Message {
    Message("proxy parameter '\(name)' starts from constants and data, not variables")
  }
}

// MARK: EvoGrad's draws given as data
extension Message {
  public static func drawsShape(
    _ name: String, samples: Int, inner: Int, expected: String, actual: String
  ) -> Message {
    Message(
      "evograd(\(samples))'s draws '\(name)' must be \(expected), one row per copy and one column per inner entry (d = \(inner)), but it is \(actual)"
    )
  }
  public static func drawsNotData(_ name: String, _ what: String) -> Message {
    Message(
      "\(what) is 'fixed', 'fresh' or a data matrix[samples, d] of draws; '\(name)' is none of these"
    )
  }
}
