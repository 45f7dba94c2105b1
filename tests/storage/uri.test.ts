import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../spec/errors.ts";
import { parseStoreUri, splitObjectUri } from "../../storage/index.ts";

describe("store URIs", () => {
  it("parses file and s3 URIs into a directory or a bucket and prefix", () => {
    expect(parseStoreUri("file:///var/lib/daotrain/")).toEqual({
      kind: "file",
      directory: "/var/lib/daotrain",
    });
    expect(parseStoreUri("s3://open-weights/daotrain/runs/")).toEqual({
      kind: "s3",
      bucket: "open-weights",
      prefix: "daotrain/runs",
    });
    expect(parseStoreUri("s3://open-weights")).toEqual({ kind: "s3", bucket: "open-weights", prefix: "" });
  });

  it("splits a manifest URI into its store and key", () => {
    expect(splitObjectUri("s3://b-1/runs/x/round-3/manifest.json")).toEqual({
      storeUri: "s3://b-1/runs/x/round-3",
      key: "manifest.json",
    });
    expect(splitObjectUri("file:///srv/ckpt/manifest.json")).toEqual({
      storeUri: "file:///srv/ckpt",
      key: "manifest.json",
    });
  });

  it("refuses other schemes, bad bucket names and store URIs used as objects, naming the URI", () => {
    expect(() => parseStoreUri("https://example.org/x")).toThrow(/unsupported scheme https/);
    expect(() => parseStoreUri("s3://Bad_Bucket/x")).toThrow(InvalidInputError);
    expect(() => parseStoreUri("not a uri")).toThrow(/"not a uri"/);
    expect(() => splitObjectUri("s3://bucket-a")).toThrow(/names a store/);
  });
});
