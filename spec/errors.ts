import type { z } from "zod";

/** Untrusted input failed its schema; `problems` name each field that is wrong. */
export class InvalidInputError extends Error {
  override readonly name = "InvalidInputError";
  readonly source: string;
  readonly problems: readonly string[];
  constructor(source: string, problems: readonly string[]) {
    super(`invalid ${source}: ${problems.join("; ")}`);
    this.source = source;
    this.problems = problems;
  }
}

export function formatZodError(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.join(".") : "(root)";
    return `${path}: ${issue.message}`;
  });
}

/** Parses with a schema and throws InvalidInputError naming the source and fields. */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, source: string): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new InvalidInputError(source, formatZodError(result.error));
  return result.data;
}
