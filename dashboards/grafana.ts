/** Where the provisioning file tells Grafana to find the generated dashboards (mount them there). */
export const GRAFANA_DASHBOARDS_PATH = "/var/lib/grafana/dashboards/daotrain";

/** Grafana provisioning: a Prometheus data source, the default for the dashboards' variable. */
export function datasourceProvisioning(prometheusUrl = "http://localhost:9090") {
  return {
    apiVersion: 1,
    datasources: [
      {
        name: "daotrain Prometheus",
        type: "prometheus",
        access: "proxy",
        url: prometheusUrl,
        isDefault: true,
      },
    ],
  };
}

/** Grafana provisioning: load every dashboard JSON in GRAFANA_DASHBOARDS_PATH into a folder. */
export function dashboardProvisioning() {
  return {
    apiVersion: 1,
    providers: [
      {
        name: "daotrain",
        folder: "daotrain",
        type: "file",
        disableDeletion: true,
        allowUiUpdates: false,
        options: { path: GRAFANA_DASHBOARDS_PATH },
      },
    ],
  };
}
