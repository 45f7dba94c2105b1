import { formatUnits } from "viem";

/** A token amount in base units as people read it: "3.6 DTT". */
export function tokens(units: string | bigint, symbol: string, decimals = 18): string {
  const value = formatUnits(BigInt(units), decimals);
  return `${Number(value).toLocaleString("en-US", { maximumFractionDigits: 6 })} ${symbol}`;
}

/** 0x12345678…9abc: enough of a hash or address to recognize it; the full value is in the title. */
export function short(hex: string): string {
  return hex.length <= 14 ? hex : `${hex.slice(0, 10)}…${hex.slice(-4)}`;
}

/** Parts per million as a percentage: 500000 → "50%". */
export function percentPpm(ppm: number): string {
  return `${(ppm / 10_000).toLocaleString("en-US", { maximumFractionDigits: 2 })}%`;
}

/** A span of seconds in words: "59 min", "2 h 5 min", "40 s". */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} days`;
}

export function utc(unixSeconds: number): string {
  return `${new Date(unixSeconds * 1000).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

export function gpuHours(gpuSeconds: number): string {
  return `${(gpuSeconds / 3600).toLocaleString("en-US", { maximumFractionDigits: 3 })} GPU-hours`;
}
