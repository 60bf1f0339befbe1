import Testing

@testable import BilevelCore

/// The rule golden transcripts rely on: error and residual figures print as
/// powers of ten, so rounding noise under the floor cannot change the text.
@Suite struct ErrorFigureTests {
  let rounding = ErrorFigure.rounding

  @Test func noiseUnderTheFloorPrintsAsTheFloor() {
    for noise in [0, 9.2e-16, 2.5e-13, 9.99e-12, -1e-20] {
      #expect(rounding.text(noise) == "< 1e-11", "\(noise)")
    }
    // The same rounding error, doubled by another summation order, prints the same.
    #expect(ErrorFigure.differences.text(2.5e-13) == ErrorFigure.differences.text(5e-13))
    #expect(ErrorFigure.differences.text(4.9e-9) == "< 1e-8")
  }

  @Test func figuresAboveTheFloorKeepTheirDecade() {
    #expect(rounding.text(1.14567e-7) == "< 1e-6")
    #expect(rounding.text(5.33143e-11) == "< 1e-10")
    #expect(rounding.text(0.0499775) == "< 1e-1")
    #expect(rounding.text(0.5) == "< 1")
    #expect(rounding.text(7.84653) == "< 1e1")
    #expect(ErrorFigure.differences.text(9e-5) == "< 1e-4")
  }

  @Test func aPowerOfTenIsNotBelowItself() {
    #expect(rounding.text(1e-11) == "< 1e-10")
    #expect(rounding.text(1e-11.nextDown) == "< 1e-11")
    #expect(rounding.text(1e-7) == "< 1e-6")
    #expect(rounding.text(1e-7.nextDown) == "< 1e-7")
    #expect(rounding.text(1) == "< 1e1")
    #expect(rounding.exponent(1e-3.nextUp) == -2)
  }

  @Test func figuresOverALimitPrintTheDecadeTheyExceed() {
    #expect(ErrorFigure.exceeding(277361) == "more than 1e5")
    #expect(ErrorFigure.exceeding(0.00199593) == "more than 1e-3")
    #expect(ErrorFigure.exceeding(1e-4) == "more than 1e-5")
    #expect(ErrorFigure.exceeding(1e-4.nextUp) == "more than 1e-4")
    #expect(ErrorFigure.exceeding(3) == "more than 1")
  }

  @Test func nonFiniteFiguresAreNamed() {
    #expect(rounding.text(.nan) == "nan")
    #expect(rounding.text(.infinity) == "inf")
    #expect(ErrorFigure.exceeding(.infinity) == "inf")
  }
}
