/**
 * exp, log, tanh and sqrt built from IEEE 754 binary64 + − × ÷ alone (each correctly rounded by
 * ECMAScript's definition of Number arithmetic) and exact reads and writes of a double's exponent
 * bits. ECMAScript leaves Math.exp, Math.log and Math.tanh "implementation-approximated", so two
 * engines (or two versions of one) may disagree in the last bit; these functions give the same
 * bits on every conforming engine and machine. Accuracy: within a few ulps, far below what a
 * loss needs; sameness is the point.
 */

const bits = new DataView(new ArrayBuffer(8));

/** 2^k for an integer k in [−1022, 1023], exactly (built from its exponent bits). */
function powerOfTwo(k: number): number {
  bits.setUint32(0, (k + 1023) << 20, false);
  bits.setUint32(4, 0, false);
  return bits.getFloat64(0, false);
}

/** x = m · 2^e with m in [1, 2), for a finite x > 0 (subnormals included); both exact. */
function split(x: number): { m: number; e: number } {
  let scaled = x;
  let e = 0;
  if (scaled < 2.2250738585072014e-308) {
    scaled *= 18014398509481984; // 2^54, exact
    e = -54;
  }
  bits.setFloat64(0, scaled, false);
  const high = bits.getUint32(0, false);
  e += ((high >>> 20) & 0x7ff) - 1023;
  bits.setUint32(0, (high & 0x800fffff) | (1023 << 20), false);
  return { m: bits.getFloat64(0, false), e };
}

// ln 2 split so that k · LN2_HI is exact for |k| < 2^11 (fdlibm's constants).
const LN2_HI = 0.6931471803691238;
const LN2_LO = 1.9082149292705877e-10;

/** 1/n! for n = 0 … 13, each one correctly rounded division of the last. */
const INVERSE_FACTORIALS = Array.from({ length: 14 }, (_, n) => n).reduce<number[]>((acc, n) => {
  acc.push(n === 0 ? 1 : acc[n - 1]! / n);
  return acc;
}, []);

/** e^x. */
export function exp(x: number): number {
  if (Number.isNaN(x)) return x;
  if (x > 709.782712893384) return Number.POSITIVE_INFINITY;
  if (x < -745.1332191019412) return 0;
  const k = Math.floor(x * Math.LOG2E + 0.5);
  const r = x - k * LN2_HI - k * LN2_LO;
  // Taylor series of e^r, |r| ≤ 0.35: the 14th term is below 2^-60 relative.
  let p = INVERSE_FACTORIALS[13]!;
  for (let n = 12; n >= 0; n--) p = p * r + INVERSE_FACTORIALS[n]!;
  if (k >= -1022) return k > 1023 ? p * 2 * powerOfTwo(k - 1) : p * powerOfTwo(k);
  return p * powerOfTwo(k + 1000) * powerOfTwo(-1000);
}

/** 1/(2n+1) for n = 0 … 11. */
const INVERSE_ODDS = Array.from({ length: 12 }, (_, n) => 1 / (2 * n + 1));

/** The natural logarithm of x. */
export function log(x: number): number {
  if (Number.isNaN(x) || x < 0) return Number.NaN;
  if (x === 0) return Number.NEGATIVE_INFINITY;
  if (x === Number.POSITIVE_INFINITY) return x;
  let { m, e } = split(x);
  if (m > Math.SQRT2) {
    m /= 2;
    e += 1;
  }
  // log m = 2·atanh(f), f = (m − 1)/(m + 1), |f| ≤ 0.172: the series below reaches 2^-60.
  const f = (m - 1) / (m + 1);
  const s = f * f;
  let p = INVERSE_ODDS[11]!;
  for (let n = 10; n >= 0; n--) p = p * s + INVERSE_ODDS[n]!;
  return e * LN2_HI + (e * LN2_LO + 2 * f * p);
}

/** tanh x = (e^{2x} − 1)/(e^{2x} + 1), saturating to ±1 where that is exact in binary64. */
export function tanh(x: number): number {
  if (x > 20) return 1;
  if (x < -20) return -1;
  const t = exp(2 * x);
  return (t - 1) / (t + 1);
}

/** √x by Newton's iteration from a power-of-two guess, the last step's result taken as is. */
export function sqrt(x: number): number {
  if (Number.isNaN(x) || x < 0) return Number.NaN;
  if (x === 0 || x === Number.POSITIVE_INFINITY) return x;
  const { m, e } = split(x);
  // √(m·2^e) = √m·2^(e/2) with e made even (then |e/2| ≤ 537); Newton from (1 + m)/2 ≥ √m.
  const even = e % 2 === 0;
  const mantissa = even ? m : m * 2;
  const half = (even ? e : e - 1) / 2;
  let y = (1 + mantissa) / 2;
  for (let i = 0; i < 6; i++) y = (y + mantissa / y) / 2;
  return y * powerOfTwo(half);
}
