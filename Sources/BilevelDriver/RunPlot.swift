import Foundation

/// `--plot FILE.svg`: a run's trace as a hand-written SVG, one panel per
/// series against the outer step: the outer loss, the hypergradient norm and
/// the inner residual (both on a log scale) and each `report` metric.
/// Coordinates are printed with two decimals, so the text is the same on
/// every machine for the same trace.
enum RunPlot {
  struct Series {
    let title: String
    let values: [Double]
    let logScale: Bool
    let colour: String
  }

  static let palette = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
  ]
  static let panelWidth = 420.0, panelHeight = 250.0
  static let left = 72.0, right = 16.0, top = 28.0, bottom = 42.0
  static let columns = 2, legendColumns = 3

  static func series(_ trace: [TraceRow], reportNames: [String], singleLevel: Bool) -> [Series] {
    var out = [
      Series(
        title: "outer loss", values: trace.map(\.outerLoss), logScale: false, colour: palette[0]),
      Series(
        title: singleLevel ? "gradient norm (log scale)" : "hypergradient norm (log scale)",
        values: trace.map(\.gradientNorm), logScale: true, colour: palette[1]),
    ]
    if !singleLevel {
      out.append(
        Series(
          title: "inner residual (log scale)", values: trace.map(\.innerResidual), logScale: true,
          colour: palette[2]))
    }
    for (i, name) in reportNames.enumerated() {
      out.append(
        Series(
          title: "report \(name)", values: trace.map { $0.reports[i] }, logScale: false,
          colour: palette[(3 + i) % palette.count]))
    }
    return out
  }

  static func svg(
    title: String, trace: [TraceRow], reportNames: [String], singleLevel: Bool
  ) -> String {
    let all = series(trace, reportNames: reportNames, singleLevel: singleLevel)
    let steps = trace.map { Double($0.step) }
    let rows = (all.count + columns - 1) / columns
    let legendRows = (all.count + legendColumns - 1) / legendColumns
    let top = 40 + Double(legendRows) * 18 + 8
    let width = Double(columns) * panelWidth + 20
    let height = top + Double(rows) * panelHeight + 10
    var s =
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(n(width))\" height=\"\(n(height))\" viewBox=\"0 0 \(n(width)) \(n(height))\" font-family=\"Helvetica, Arial, sans-serif\">\n"
    s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    s += text(
      10, 24, "bilevelc: \(title), \(max(0, trace.count - 1)) outer steps", size: 16, weight: "bold"
    )
    // The legend: one swatch per series, in panel order, in fixed columns.
    for (k, series) in all.enumerated() {
      let x = 10 + Double(k % legendColumns) * (width - 20) / Double(legendColumns)
      let y = 48.0 + Double(k / legendColumns) * 18
      s +=
        "<line x1=\"\(n(x))\" y1=\"\(n(y - 4))\" x2=\"\(n(x + 22))\" y2=\"\(n(y - 4))\" stroke=\"\(series.colour)\" stroke-width=\"2.5\"/>\n"
      s += text(x + 28, y, series.title, size: 12)
    }
    for (k, series) in all.enumerated() {
      let ox = 10 + Double(k % columns) * panelWidth
      let oy = top + Double(k / columns) * panelHeight
      s += panel(series, steps: steps, x: ox, y: oy)
    }
    return s + "</svg>\n"
  }

  /// One panel: frame, ticks, grid, labels and the line with its points.
  static func panel(_ series: Series, steps: [Double], x ox: Double, y oy: Double) -> String {
    let plotX = ox + left, plotY = oy + top
    let w = panelWidth - left - right, h = panelHeight - top - bottom
    var s = "<g>\n" + text(plotX, oy + 18, series.title, size: 13, weight: "bold")
    let shown = zip(steps, series.values).filter { $0.1.isFinite && (!series.logScale || $0.1 > 0) }
    s +=
      "<rect x=\"\(n(plotX))\" y=\"\(n(plotY))\" width=\"\(n(w))\" height=\"\(n(h))\" fill=\"none\" stroke=\"#444\"/>\n"
    let lastStep = max(1, steps.last ?? 1)
    let firstStep = steps.first ?? 0
    let span = max(1, lastStep - firstStep)
    func px(_ step: Double) -> Double { plotX + (step - firstStep) / span * w }
    for t in linearTicks(firstStep, firstStep + span, integers: true) {
      s +=
        "<line x1=\"\(n(px(t)))\" y1=\"\(n(plotY + h))\" x2=\"\(n(px(t)))\" y2=\"\(n(plotY + h + 5))\" stroke=\"#444\"/>\n"
      s += text(px(t), plotY + h + 18, label(t), size: 11, anchor: "middle")
    }
    s += text(plotX + w / 2, plotY + h + 35, "outer step", size: 11, anchor: "middle")
    guard !shown.isEmpty else {
      return s
        + text(
          plotX + w / 2, plotY + h / 2,
          series.logScale ? "no positive finite values" : "no finite values",
          size: 12, anchor: "middle") + "</g>\n"
    }
    let ys = shown.map { series.logScale ? log10($0.1) : $0.1 }
    var (lo, hi) = (ys.min()!, ys.max()!)
    var yStep = 1.0
    if series.logScale {
      (lo, hi) = (floor(lo), ceil(hi))
      if lo == hi { (lo, hi) = (lo - 1, hi + 1) }
    } else if lo == hi {
      let pad = lo == 0 ? 1 : abs(lo) * 0.1
      (lo, hi) = (lo - pad, hi + pad)
    } else {
      // Widen to whole ticks, so the frame starts and ends on a label.
      yStep = niceStep(lo, hi, integers: false)
      (lo, hi) = (floor(lo / yStep + 1e-9) * yStep, ceil(hi / yStep - 1e-9) * yStep)
    }
    if !series.logScale && yStep == 1 { yStep = niceStep(lo, hi, integers: false) }
    func py(_ v: Double) -> Double { plotY + h - (v - lo) / (hi - lo) * h }
    let yTicks = series.logScale ? logTicks(Int(lo), Int(hi)) : ticks(lo, hi, step: yStep)
    for t in yTicks {
      s +=
        "<line x1=\"\(n(plotX))\" y1=\"\(n(py(t)))\" x2=\"\(n(plotX + w))\" y2=\"\(n(py(t)))\" stroke=\"#e4e4e4\"/>\n"
      s +=
        "<line x1=\"\(n(plotX - 5))\" y1=\"\(n(py(t)))\" x2=\"\(n(plotX))\" y2=\"\(n(py(t)))\" stroke=\"#444\"/>\n"
      s += text(
        plotX - 8, py(t) + 4, series.logScale ? "1e\(Int(t))" : label(t), size: 11, anchor: "end")
    }
    let points = zip(shown, ys).map { "\(n(px($0.0.0))),\(n(py($0.1)))" }
    s +=
      "<polyline fill=\"none\" stroke=\"\(series.colour)\" stroke-width=\"2\" points=\"\(points.joined(separator: " "))\"/>\n"
    if shown.count <= 60 {
      for p in points {
        let xy = p.split(separator: ",")
        s += "<circle cx=\"\(xy[0])\" cy=\"\(xy[1])\" r=\"2.5\" fill=\"\(series.colour)\"/>\n"
      }
    }
    let omitted = series.values.count - shown.count
    if omitted > 0 {
      s += text(
        plotX + w - 4, plotY + 14,
        "\(omitted) step\(omitted == 1 ? "" : "s") not shown (\(series.logScale ? "≤ 0 or " : "")not finite)",
        size: 10, anchor: "end")
    }
    return s + "</g>\n"
  }

  /// 1, 2 or 5 × 10ᵏ: about five steps across [lo, hi].
  static func niceStep(_ lo: Double, _ hi: Double, integers: Bool) -> Double {
    let raw = (hi - lo) / 5
    let magnitude = pow(10, floor(log10(raw)))
    let fraction = raw / magnitude
    let step = (fraction < 1.5 ? 1 : fraction < 3.5 ? 2 : fraction < 7.5 ? 5 : 10) * magnitude
    return integers ? max(1, step.rounded()) : step
  }

  /// Ticks k · step inside [lo, hi], computed from whole k so they do not drift.
  static func linearTicks(_ lo: Double, _ hi: Double, integers: Bool) -> [Double] {
    guard hi > lo else { return [lo] }
    return ticks(lo, hi, step: niceStep(lo, hi, integers: integers))
  }

  static func ticks(_ lo: Double, _ hi: Double, step: Double) -> [Double] {
    let first = Int(ceil(lo / step - 1e-9)), last = Int(floor(hi / step + 1e-9))
    return (first...max(first, last)).map { Double($0) * step }
  }

  /// Decades lo…hi, thinned to at most seven labels.
  static func logTicks(_ lo: Int, _ hi: Int) -> [Double] {
    let every = max(1, (hi - lo + 6) / 7)
    return stride(from: lo, through: hi, by: every).map(Double.init)
  }

  static func label(_ v: Double) -> String {
    if v == v.rounded() && abs(v) < 1e6 { return String(Int(v)) }
    return String(format: "%.4g", v)
      .replacingOccurrences(of: "e-0", with: "e-").replacingOccurrences(of: "e+0", with: "e+")
  }

  static func n(_ v: Double) -> String { String(format: "%.2f", v) }

  static func text(
    _ x: Double, _ y: Double, _ content: String, size: Int, anchor: String = "start",
    weight: String = "normal"
  ) -> String {
    let escaped = content.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(
      of: "<", with: "&lt;"
    )
    .replacingOccurrences(of: ">", with: "&gt;")
    return
      "<text x=\"\(n(x))\" y=\"\(n(y))\" font-size=\"\(size)\" text-anchor=\"\(anchor)\" font-weight=\"\(weight)\" fill=\"#222\">\(escaped)</text>\n"
  }
}
