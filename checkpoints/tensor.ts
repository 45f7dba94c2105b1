import { endianness } from "node:os";

/** safetensors dtypes daotrain reads and writes; element sizes in bytes. */
export const dtypeBytes = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
} as const;
export type DType = keyof typeof dtypeBytes;
export type FloatDType = "F32" | "F16" | "BF16";

/** One tensor: its dtype, shape and raw little-endian bytes, exactly as safetensors stores them. */
export interface Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}
export type Tensors = Readonly<Record<string, Tensor>>;

if (endianness() !== "LE") throw new Error("daotrain checkpoints need a little-endian host");

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** Wraps a Float32Array as a tensor (F32 by default, or converted to F16 / BF16). */
export function floatTensor(
  shape: readonly number[],
  values: Float32Array,
  dtype: FloatDType = "F32",
): Tensor {
  if (values.length !== elementCount(shape)) {
    throw new RangeError(
      `tensor of shape [${shape}] needs ${elementCount(shape)} values, got ${values.length}`,
    );
  }
  if (dtype === "F32")
    return { dtype, shape, bytes: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
  const halves = new Uint16Array(values.length);
  const encode = dtype === "F16" ? f32ToF16 : f32ToBf16;
  for (let i = 0; i < values.length; i++) halves[i] = encode(values[i]!);
  return { dtype, shape, bytes: new Uint8Array(halves.buffer) };
}

/** The tensor's values as float32 (F32 is a view when aligned, F16 / BF16 / F64 are converted). */
export function toFloat32(tensor: Tensor): Float32Array {
  const { bytes } = tensor;
  const n = elementCount(tensor.shape);
  switch (tensor.dtype) {
    case "F32":
      if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, n);
      return new Float32Array(copyOf(bytes).buffer, 0, n);
    case "F64":
      return Float32Array.from(new Float64Array(copyOf(bytes).buffer, 0, n));
    case "F16":
    case "BF16": {
      const halves = new Uint16Array(copyOf(bytes).buffer, 0, n);
      const decode = tensor.dtype === "F16" ? f16ToF32 : bf16ToF32;
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = decode(halves[i]!);
      return out;
    }
    default:
      throw new TypeError(`tensor dtype ${tensor.dtype} is not a float type`);
  }
}

/** An aligned copy (a Buffer's slice() is a view, not a copy). */
function copyOf(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

const scratch = new DataView(new ArrayBuffer(4));

/** float32 → bfloat16, rounding to nearest even (NaN stays NaN). */
export function f32ToBf16(value: number): number {
  scratch.setFloat32(0, value, true);
  const bits = scratch.getUint32(0, true);
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16ToF32(half: number): number {
  scratch.setUint32(0, half << 16, true);
  return scratch.getFloat32(0, true);
}

/** float32 → IEEE half, rounding to nearest even, with subnormals, infinities and NaN. */
export function f32ToF16(value: number): number {
  scratch.setFloat32(0, value, true);
  const bits = scratch.getUint32(0, true);
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  let e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const rounded = (mantissa + (1 << (shift - 1)) - 1 + ((mantissa >>> shift) & 1)) >>> shift;
    return sign | rounded;
  }
  const rounded = mantissa + 0xfff + ((mantissa >>> 13) & 1);
  if (rounded & 0x800000) {
    mantissa = 0;
    e += 1;
    if (e >= 0x1f) return sign | 0x7c00;
  } else {
    mantissa = rounded;
  }
  return sign | (e << 10) | (mantissa >>> 13);
}

export function f16ToF32(half: number): number {
  const sign = half & 0x8000 ? -1 : 1;
  const exponent = (half >>> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}
