import { extname } from "node:path";

/**
 * The URL of a module beside (or relative to) the calling one, with the caller's own extension:
 * `.ts` when Node runs the sources from a clone, `.js` in the compiled package. For the paths a
 * worker thread or Temporal's bundler load by URL, which the compiler does not rewrite.
 */
export function siblingModule(relative: string, callerUrl: string): URL {
  return new URL(`${relative}${extname(new URL(callerUrl).pathname)}`, callerUrl);
}
