import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

/** A small line or bar chart over days (uPlot). */
export function DayChart({
  days,
  values,
  label,
  percent = false,
  testId,
}: {
  days: string[];
  values: Array<number | null>;
  label: string;
  percent?: boolean;
  testId?: string;
}) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!ref.current) return;
    const xs = days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
    const ys = values.map((v) => (v === null ? null : percent ? Math.round(v * 1000) / 10 : v));
    const plot = new uPlot(
      {
        width: Math.max(ref.current.clientWidth, 280),
        height: 180,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Africa/Dar_es_Salaam"),
        scales: { y: percent ? { range: [0, 100] } : { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        axes: [{}, { values: (_u, ticks) => ticks.map((v) => (percent ? `${v}%` : `${v}`)) }],
        series: [{}, { label, stroke: "#0b7a53", width: 2, fill: "rgba(11,122,83,0.12)", spanGaps: true }],
        legend: { show: false },
      },
      [xs, ys],
      ref.current,
    );
    return () => plot.destroy();
  }, [days, values, label, percent]);
  return <div className="chart" ref={ref} data-testid={testId} aria-label={label} />;
}
