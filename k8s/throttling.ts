import { setTimeout as sleep } from "node:timers/promises";
import {
  type HttpLibrary,
  IsomorphicFetchHttpLibrary,
  type ResponseContext,
  wrapHttpLibrary,
} from "@kubernetes/client-node";

/** client-go's bound: a request an apiserver keeps shedding is sent at most this many more times. */
const THROTTLED_RETRIES = 10;
/** A Retry-After longer than this is cut to it: the request's own timeout bounds the whole wait. */
const MAX_RETRY_AFTER_MS = 10_000;

/**
 * An apiserver under load sheds requests before it handles them, answering 429 Too Many Requests
 * with a Retry-After (max-in-flight limits, API Priority and Fairness). client-go waits that long
 * and sends the request again, whatever its verb, since nothing of it was done; client-node does
 * not, and a contributor's busy apiserver failed a whole launch activity at its first 429. This
 * HTTP library does what client-go does, up to `THROTTLED_RETRIES` times, within the request's
 * own signal (its timeout covers the waits too), with a little jitter so that the clusters of a
 * round do not come back in step.
 */
export function retryingThrottled(library: HttpLibrary = new IsomorphicFetchHttpLibrary()): HttpLibrary {
  return wrapHttpLibrary({
    async send(request) {
      for (let retry = 0; ; retry++) {
        const response = await library.send(request).toPromise();
        if (response.httpStatusCode !== 429 || retry === THROTTLED_RETRIES) return response;
        await response.body.text(); // frees the connection for the next try
        const delay = retryAfterMs(response) * (1 + Math.random() / 4);
        await sleep(delay, undefined, { signal: request.getSignal() });
      }
    },
  });
}

/** Retry-After in seconds or as an HTTP date; one second when absent or unreadable. */
function retryAfterMs(response: ResponseContext): number {
  const value = response.headers["retry-after"];
  if (value === undefined) return 1_000;
  const seconds = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(seconds) ? Math.min(Math.max(seconds, 0), MAX_RETRY_AFTER_MS) : 1_000;
}
