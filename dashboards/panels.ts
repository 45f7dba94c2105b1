import type * as cog from "@grafana/grafana-foundation-sdk/cog";
import { ReduceDataOptionsBuilder } from "@grafana/grafana-foundation-sdk/common";
import type * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import {
  DashboardBuilder,
  DatasourceVariableBuilder,
  RowBuilder,
} from "@grafana/grafana-foundation-sdk/dashboard";
import { DataqueryBuilder } from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder as StatPanelBuilder } from "@grafana/grafana-foundation-sdk/stat";
import { PanelBuilder as TimeseriesPanelBuilder } from "@grafana/grafana-foundation-sdk/timeseries";

// Every panel queries the Prometheus data source chosen in the dashboard's `datasource`
// variable, so one dashboard serves any Grafana that has daotrain's Prometheus.
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template
const datasource = { type: "prometheus", uid: "${datasource}" };

export interface Query {
  expr: string;
  legend: string;
}

export function query(expr: string, legend = ""): Query {
  return { expr, legend };
}

function targets(queries: readonly Query[]): cog.Builder<cog.Dataquery>[] {
  return queries.map((q, index) =>
    new DataqueryBuilder()
      .datasource(datasource)
      .refId(String.fromCharCode(65 + index))
      .expr(q.expr)
      .legendFormat(q.legend),
  );
}

export type PanelSpec =
  | { kind: "timeseries"; title: string; description: string; unit: string; queries: readonly Query[] }
  | { kind: "stat"; title: string; description: string; unit: string; queries: readonly Query[] };

export function timeseries(title: string, description: string, unit: string, ...queries: Query[]): PanelSpec {
  return { kind: "timeseries", title, description, unit, queries };
}

export function stat(title: string, description: string, unit: string, ...queries: Query[]): PanelSpec {
  return { kind: "stat", title, description, unit, queries };
}

export interface Row {
  title: string;
  /** Panels side by side; a row of stats is short, a row of graphs tall. */
  panels: readonly PanelSpec[];
}

const gridWidth = 24;

function panelBuilder(spec: PanelSpec, gridPos: dashboard.GridPos): cog.Builder<dashboard.Panel> {
  if (spec.kind === "stat") {
    return new StatPanelBuilder()
      .reduceOptions(new ReduceDataOptionsBuilder().calcs(["lastNotNull"]))
      .title(spec.title)
      .description(spec.description)
      .unit(spec.unit)
      .datasource(datasource)
      .gridPos(gridPos)
      .targets(targets(spec.queries));
  }
  return new TimeseriesPanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .unit(spec.unit)
    .datasource(datasource)
    .gridPos(gridPos)
    .targets(targets(spec.queries));
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  rows: readonly Row[];
}

/** Lays rows out top to bottom, each row's panels in equal widths, and builds the dashboard. */
export function buildDashboard(spec: DashboardSpec): dashboard.Dashboard {
  const builder = new DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags(["daotrain", "generated"])
    .refresh("30s")
    .time({ from: "now-6h", to: "now" })
    .timezone("utc")
    .readonly()
    .withVariable(new DatasourceVariableBuilder("datasource").label("Prometheus").type("prometheus"));
  let y = 0;
  for (const row of spec.rows) {
    builder.withRow(new RowBuilder(row.title).gridPos({ x: 0, y, w: gridWidth, h: 1 }));
    y += 1;
    const width = Math.floor(gridWidth / row.panels.length);
    const height = row.panels.every((panel) => panel.kind === "stat") ? 4 : 8;
    row.panels.forEach((panel, index) => {
      builder.withPanel(panelBuilder(panel, { x: index * width, y, w: width, h: height }));
    });
    y += height;
  }
  const built = builder.build();
  // Stable ids in layout order, so regenerating gives byte-identical JSON.
  let id = 1;
  for (const panel of built.panels ?? []) panel.id = id++;
  return built;
}
