import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { dashboards, generatedDirectory } from "../../dashboards/generate.ts";

export interface PanelQuery {
  dashboard: string;
  panel: string;
  expr: string;
}

interface PanelJson {
  title?: string;
  targets?: Array<{ expr?: string }>;
  panels?: PanelJson[];
}

function collect(dashboard: string, panels: PanelJson[], into: PanelQuery[]): void {
  for (const panel of panels) {
    for (const target of panel.targets ?? []) {
      if (target.expr) into.push({ dashboard, panel: panel.title ?? "(untitled)", expr: target.expr });
    }
    collect(dashboard, panel.panels ?? [], into);
  }
}

/** Every PromQL expression of every panel (rows' nested panels too) in the committed JSON. */
export async function committedPanelQueries(): Promise<PanelQuery[]> {
  const queries: PanelQuery[] = [];
  for (const spec of dashboards) {
    const json = JSON.parse(await readFile(join(generatedDirectory, `${spec.uid}.json`), "utf8")) as {
      panels: PanelJson[];
    };
    collect(spec.uid, json.panels, queries);
  }
  return queries;
}

/** Grafana's interval variables, replaced with a window that holds several 1 s scrapes. */
export function withGrafanaVariables(expr: string, window = "1m"): string {
  return expr
    .replaceAll("$__rate_interval", window)
    .replaceAll("$__interval", window)
    .replaceAll("$__range", window);
}

/** The metric names an expression reads (`daotrain_*`), without histogram suffixes. */
export function metricNames(expr: string): string[] {
  const names = expr.match(/\bdaotrain_[a-z_]+/g) ?? [];
  return [...new Set(names.map((name) => name.replace(/_(bucket|sum|count)$/, "")))];
}
