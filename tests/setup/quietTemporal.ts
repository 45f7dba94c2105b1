import { DefaultLogger, Runtime } from "@temporalio/worker";

// Temporal's SDK logs every worker state change and bundle at INFO; in a test run that drowns
// the results. Warnings and errors still print. (A test process installs the runtime once.)
Runtime.install({ logger: new DefaultLogger("WARN") });
