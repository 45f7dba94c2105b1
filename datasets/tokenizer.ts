/**
 * The byte-level tokenizer: each UTF-8 byte is one token (vocabulary 256). Nothing to train or
 * ship, any text round-trips exactly, and a model of any `vocabSize` ≥ 256 can read its tokens.
 */
export const byteTokenizer = {
  kind: "bytes",
  vocabSize: 256,
  encode(text: string | Uint8Array): Uint16Array {
    const bytes = typeof text === "string" ? Buffer.from(text, "utf8") : text;
    return Uint16Array.from(bytes);
  },
  decode(tokens: ArrayLike<number>): string {
    return Buffer.from(Uint8Array.from(tokens)).toString("utf8");
  },
} as const;
export type TokenizerInfo = { readonly kind: "bytes"; readonly vocabSize: number };
