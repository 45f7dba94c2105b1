import type { UseQueryResult } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { explainError } from "../errors.ts";

/** Loading, the error sentence, or the page built from the data. */
export function QueryState<T>({
  query,
  children,
}: {
  query: UseQueryResult<T>;
  children: (data: T) => ReactNode;
}) {
  if (query.data !== undefined)
    return (
      <>
        {query.error ? (
          <output className="stale">Showing the last answer: {explainError(query.error)}</output>
        ) : null}
        {children(query.data)}
      </>
    );
  if (query.error)
    return (
      <p role="alert" className="error">
        {explainError(query.error)}
      </p>
    );
  return <output>Loading…</output>;
}
