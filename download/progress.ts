/** What a download has done so far; `resumedBytes` were already on disk from an earlier try. */
export interface DownloadProgress {
  totalBytes: number;
  doneBytes: number;
  resumedBytes: number;
  elapsedSeconds: number;
}

function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** One line: bar, bytes done of total, rate of this session's transfer, time left. */
export function progressLine(progress: DownloadProgress, width = 24): string {
  const fraction = progress.totalBytes > 0 ? progress.doneBytes / progress.totalBytes : 1;
  const filled = Math.round(fraction * width);
  const fetched = progress.doneBytes - progress.resumedBytes;
  const rate = progress.elapsedSeconds > 0 ? fetched / progress.elapsedSeconds : 0;
  const eta = rate > 0 ? (progress.totalBytes - progress.doneBytes) / rate : Number.POSITIVE_INFINITY;
  const resumed = progress.resumedBytes > 0 ? ` (resumed ${formatBytes(progress.resumedBytes)})` : "";
  return (
    `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${formatBytes(progress.doneBytes)} / ` +
    `${formatBytes(progress.totalBytes)}  ${formatBytes(rate)}/s  ETA ${formatSeconds(eta)}${resumed}`
  );
}

/**
 * Draws progress on a stream: redrawn in place on a terminal, one line every few seconds when
 * the stream is a file or pipe (so logs stay readable).
 */
export function progressBar(stream: NodeJS.WriteStream): {
  update(progress: DownloadProgress): void;
  finish(progress: DownloadProgress): void;
} {
  const tty = stream.isTTY === true;
  const intervalMs = tty ? 100 : 2_000;
  let last = 0;
  return {
    update(progress) {
      const now = Date.now();
      if (now - last < intervalMs) return;
      last = now;
      stream.write(tty ? `\r${progressLine(progress)}\x1b[K` : `${progressLine(progress)}\n`);
    },
    finish(progress) {
      stream.write(tty ? `\r${progressLine(progress)}\x1b[K\n` : `${progressLine(progress)}\n`);
    },
  };
}
