import { type Hex, hexToString } from "viem";
import { z } from "zod";

// Metadata of the DAO, the plugin release and proposals: inline data: URIs, no IPFS.

/** A metadata URI without IPFS: the JSON itself, inline. */
export function dataUri(value: unknown): string {
  return `data:application/json;base64,${Buffer.from(JSON.stringify(value)).toString("base64")}`;
}

const Metadata = z.object({ title: z.string(), summary: z.string().default("") });

/** Proposal metadata is a data: URI of {title, summary}; anything else is shown as its text. */
export function decodeMetadata(metadata: Hex): { title: string; summary: string } {
  const text = hexToString(metadata);
  const match = /^data:application\/json;base64,(.*)$/.exec(text);
  if (match?.[1]) {
    try {
      const parsed = Metadata.safeParse(JSON.parse(Buffer.from(match[1], "base64").toString("utf8")));
      if (parsed.success) return parsed.data;
    } catch {
      // Anyone can propose with any bytes: unreadable JSON is shown as text like other metadata.
    }
  }
  return { title: text, summary: "" };
}
