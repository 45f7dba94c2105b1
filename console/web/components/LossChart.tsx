import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { RoundView } from "../../api.ts";

/** Train and held-out loss per committed round (uPlot); the rounds table beside it has the numbers. */
export function LossChart({ rounds }: { rounds: RoundView[] }) {
  const container = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const target = container.current;
    if (!target || rounds.length === 0) return;
    const plot = new uPlot(
      {
        width: Math.min(720, target.clientWidth || 720),
        height: 260,
        scales: { x: { time: false } },
        series: [
          { label: "round" },
          { label: "train loss", stroke: "#1d4ed8", width: 2, points: { size: 7 } },
          { label: "held-out loss", stroke: "#b45309", width: 2, dash: [6, 4], points: { size: 7 } },
        ],
        axes: [{ label: "round", incrs: [1] }, { label: "loss" }],
      },
      [rounds.map((r) => r.round), rounds.map((r) => r.loss), rounds.map((r) => r.valLoss)],
      target,
    );
    return () => plot.destroy();
  }, [rounds]);
  if (rounds.length === 0) return <p>No round committed yet: the loss curve appears with the first one.</p>;
  const last = rounds.at(-1);
  return (
    <figure className="chart">
      <div
        ref={container}
        role="img"
        aria-label={`Loss over ${rounds.length} committed rounds; latest round ${last?.round}: train ${last?.loss.toFixed(4)}, held-out ${last?.valLoss.toFixed(4)}`}
      />
      <figcaption>
        Train loss (solid) and held-out loss (dashed) of each committed round's checkpoint.
      </figcaption>
    </figure>
  );
}
