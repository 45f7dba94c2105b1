import { type Hex, hexToString } from "viem";
import { z } from "zod";

// Metadata of the DAO, the plugin release and proposals: inline data: URIs, no IPFS.

const DATA_JSON_PREFIX = "data:application/json;base64,";

/** A metadata URI without IPFS: the JSON itself, inline. */
export function dataUri(value: unknown): string {
  return `${DATA_JSON_PREFIX}${Buffer.from(JSON.stringify(value)).toString("base64")}`;
}

/** The JSON inside an inline `data:application/json;base64,` URI, or undefined for any other text. */
export function dataUriJson(text: string): unknown {
  if (!text.startsWith(DATA_JSON_PREFIX)) return undefined;
  try {
    return JSON.parse(Buffer.from(text.slice(DATA_JSON_PREFIX.length), "base64").toString("utf8"));
  } catch {
    // Anyone can propose with any bytes: unreadable JSON is treated like any other text.
    return undefined;
  }
}

/**
 * Proposal metadata in the shape Aragon's SDK and App read (`ProposalMetadata` of
 * `@aragon/sdk-client-common`): a title, a one-line summary, a longer description and links.
 * Older daotrain proposals carried only title and summary; the rest defaults to empty.
 */
export const ProposalMetadata = z.object({
  title: z.string(),
  summary: z.string().default(""),
  description: z.string().default(""),
  resources: z.array(z.object({ name: z.string(), url: z.string() })).default([]),
});
export type ProposalMetadata = z.infer<typeof ProposalMetadata>;
export type ProposalMetadataInput = z.input<typeof ProposalMetadata>;

/** The inline metadata URI a proposal is created with: every field Aragon's apps read. */
export function proposalMetadataUri(metadata: ProposalMetadataInput): string {
  return dataUri(ProposalMetadata.parse(metadata));
}

/** Proposal metadata from a data: URI; anything else is shown as its text. */
export function decodeMetadata(metadata: Hex): ProposalMetadata {
  const text = hexToString(metadata);
  const parsed = ProposalMetadata.safeParse(dataUriJson(text));
  return parsed.success ? parsed.data : { title: text, summary: "", description: "", resources: [] };
}
