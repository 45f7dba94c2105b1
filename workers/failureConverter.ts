import { DefaultFailureConverter } from "@temporalio/common";

// Loaded by path (DataConverter.failureConverterPath) in three places: the worker, every client,
// and the workflow bundle, so it imports nothing but @temporalio/common.

/**
 * Moves a failure's message and stack trace into an encoded attributes payload, which the
 * payload codec then encrypts: a revert's arguments, a store URI or a cluster's error text
 * reach Temporal's history sealed like every other payload.
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
