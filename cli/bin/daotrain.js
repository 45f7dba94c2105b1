#!/usr/bin/env node
// The installed `daotrain` command: Node >= 22.18 runs the TypeScript sources directly.
await import("../main.ts");
