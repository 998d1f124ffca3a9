import assert from "node:assert/strict";
import { add, compare, exact, formatDecimal, formatScaled, minorUnitsOf, MoneyError, mul, parseDecimal, parseMoney, roundHalfEven, roundToCurrency, sub, toMoney } from "./money.ts";

describe("money", () => {
  it("parses decimal strings exactly and refuses what is not one, naming the field", () => {
    assert.deepEqual(parseDecimal("0.042", "rate"), { num: 42n, den: 1000n });
    assert.deepEqual(parseDecimal("12", "rate"), { num: 12n, den: 1n });
    for (const bad of ["-1", "1e3", ".5", "01", "1.", "0.1 ", "NaN", ""]) {
      assert.throws(() => parseDecimal(bad, "spec.rates.cpuCoreHour"), (err: Error) => err instanceof MoneyError && err.message.includes("spec.rates.cpuCoreHour"), bad);
    }
  });

  it("adds, subtracts, multiplies and compares without floating point", () => {
    // 0.1 + 0.2 is 0.30000000000000004 in floats.
    const sum = add(parseDecimal("0.1", "a"), parseDecimal("0.2", "b"));
    assert.equal(compare(sum, parseDecimal("0.3", "c")), 0);
    assert.equal(formatDecimal(sum, 2), "0.30");
    assert.equal(formatDecimal(sub(parseDecimal("1", "a"), parseDecimal("2.5", "b")), 2), "-1.50");
    assert.equal(formatDecimal(mul(parseDecimal("0.000000001", "a"), parseDecimal("999999999999999999", "b")), 0), "999999999.999999999");
    assert.equal(compare(exact(1n, 3n), exact(333n, 1000n)), 1);
  });

  it("rounds half to even, symmetrically for negatives", () => {
    const cents = (text: string): bigint => roundHalfEven(parseDecimal(text, "x"), 2);
    assert.equal(cents("0.125"), 12n, "half: to the even cent (down)");
    assert.equal(cents("0.135"), 14n, "half: to the even cent (up)");
    assert.equal(cents("0.1250000001"), 13n, "above half: up");
    assert.equal(cents("0.1249999999"), 12n, "below half: down");
    assert.equal(roundHalfEven(exact(-5n, 2n), 0), -2n);
    assert.equal(roundHalfEven(exact(-7n, 2n), 0), -4n);
    assert.equal(roundHalfEven(exact(2n, 3n), 2), 67n, "2/3 → 0.67");
  });

  it("rounds to each currency's ISO 4217 minor units", () => {
    assert.equal(minorUnitsOf("EUR"), 2);
    assert.equal(minorUnitsOf("JPY"), 0);
    assert.equal(minorUnitsOf("KWD"), 3);
    assert.deepEqual(toMoney(roundToCurrency(parseDecimal("1234.5", "x"), "JPY")), { amount: "1234", currency: "JPY" }, "half to even: 1234");
    assert.deepEqual(toMoney(roundToCurrency(parseDecimal("1.23456", "x"), "KWD")), { amount: "1.235", currency: "KWD" });
    assert.deepEqual(toMoney(roundToCurrency(parseDecimal("0.005", "x"), "EUR")), { amount: "0.00", currency: "EUR" });
    assert.throws(() => minorUnitsOf("eur"), /currency "eur" is not an ISO 4217 code/);
  });

  it("formats scaled integers and exact decimals, and refuses to print a value that needs rounding", () => {
    assert.equal(formatScaled(5n, 2), "0.05");
    assert.equal(formatScaled(-1234n, 2), "-12.34");
    assert.equal(formatScaled(7n, 0), "7");
    assert.equal(formatDecimal(parseDecimal("2.5", "x"), 2), "2.50");
    assert.equal(formatDecimal(parseDecimal("0.001", "x"), 2), "0.001", "more digits when needed, never fewer");
    assert.throws(() => formatDecimal(exact(1n, 3n), 2), /no finite decimal form/);
  });

  it("writes only amounts the schema's Decimal accepts", () => {
    assert.throws(() => toMoney({ minor: -1n, currency: "EUR" }), /negative/);
    assert.throws(() => toMoney({ minor: 10n ** 20n, currency: "EUR" }), /more than 18 integer digits/);
    assert.deepEqual(toMoney({ minor: 10n ** 20n - 1n, currency: "EUR" }), { amount: "999999999999999999.99", currency: "EUR" });
  });

  it("reads a Money field, naming it in errors", () => {
    assert.deepEqual(parseMoney({ amount: "10.5", currency: "EUR" }, "spec.budget"), { value: { num: 105n, den: 10n }, currency: "EUR" });
    assert.throws(() => parseMoney({ amount: "ten", currency: "EUR" }, "spec.budget"), /spec\.budget\.amount "ten"/);
  });
});
