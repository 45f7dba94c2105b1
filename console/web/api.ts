import { useQuery } from "@tanstack/react-query";
import type { z } from "zod";
import { ApiError } from "../api.ts";

/** How often pages ask again: proposals' tallies and runs' rounds change while a member watches. */
export const REFRESH_MS = 2_000;

/** The API's own error sentence, or one for a server that did not answer. */
export class ApiRequestError extends Error {
  override readonly name = "ApiRequestError";
}

export async function getJson<S extends z.ZodType>(path: string, schema: S): Promise<z.infer<S>> {
  let response: Response;
  try {
    response = await fetch(path, { headers: { accept: "application/json" } });
  } catch {
    throw new ApiRequestError("The console's server did not answer; is `daotrain console` still running?");
  }
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    const parsed = ApiError.safeParse(body);
    throw new ApiRequestError(
      parsed.success ? parsed.data.error : `The console answered ${response.status}.`,
    );
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success)
    throw new ApiRequestError("The console sent an answer this page does not understand; reload it.");
  return parsed.data;
}

/** One API answer, cached and refreshed by React Query (keyed by its path). */
export function useApi<S extends z.ZodType>(
  path: string,
  schema: S,
  refetchInterval: number | false = REFRESH_MS,
) {
  return useQuery({ queryKey: [path], queryFn: () => getJson(path, schema), refetchInterval });
}
