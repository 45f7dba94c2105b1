import { z } from "zod";

/** Kubernetes' binary and decimal suffixes for byte quantities. */
const BYTE_SUFFIXES: Record<string, number> = {
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
};

/** Bytes of a Kubernetes quantity like "2Gi", "512Mi", "1.5G"; undefined when it is not one. */
export function bytesOf(quantity: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/.exec(quantity);
  if (!match) return undefined;
  return Number(match[1]) * (BYTE_SUFFIXES[match[2] ?? ""] ?? 1);
}

/** Cores of a Kubernetes CPU quantity like "2", "0.5", "500m"; undefined when it is not one. */
export function coresOf(quantity: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(m)?$/.exec(quantity);
  if (!match) return undefined;
  return Number(match[1]) / (match[2] ? 1000 : 1);
}

/** A CPU quantity between `min` and `max` cores, refused with the bounds named. */
export function cpuQuantity(min: number, max: number) {
  return z.string().refine(
    (q) => {
      const cores = coresOf(q);
      return cores !== undefined && cores >= min && cores <= max;
    },
    { message: `must be a CPU quantity ("2", "500m") from ${min} to ${max} cores` },
  );
}

/** A byte quantity between `min` and `max` (both written as quantities), refused with the bounds named. */
export function byteQuantity(min: string, max: string) {
  const [low, high] = [bytesOf(min) ?? 0, bytesOf(max) ?? 0];
  return z.string().refine(
    (q) => {
      const bytes = bytesOf(q);
      return bytes !== undefined && bytes >= low && bytes <= high;
    },
    { message: `must be a byte quantity ("2Gi", "512Mi") from ${min} to ${max}` },
  );
}
