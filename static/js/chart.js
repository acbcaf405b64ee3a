// The activity chart: shared list length and mutations per second over the last minutes.

import uPlot from "../vendor/uplot/uPlot.esm.js";

const WINDOW = 300; // seconds kept (and so the chart's memory is bounded)

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

// Show at least a minute and at most the kept window, ending now.
function xRange(min, max) {
  const now = Date.now() / 1000;
  if (max === null || !Number.isFinite(max)) return [now - 60, now];
  return [max - Math.max(60, Math.min(WINDOW, max - min)), max];
}

// The time axis in one row: each tick its seconds (":10"), the first tick and each new
// minute the time of day. uPlot's default second row of dates and times put
// "12/8/26 12:46am" and "12:47am" on top of each other when a minute began at the second tick.
function timeLabels(u, splits) {
  return splits.map((t, i) => {
    const d = new Date(t * 1000), seconds = d.getSeconds();
    if (i === 0 || seconds === 0) {
      const shown = { hour: "numeric", minute: "2-digit", ...(seconds ? { second: "2-digit" } : {}) };
      return d.toLocaleTimeString([], shown);
    }
    return `:${String(seconds).padStart(2, "0")}`;
  });
}

export class ActivityChart {
  constructor(el) {
    this.el = el;
    this.data = [[], [], []];
    const muted = cssVar("--muted"), grid = cssVar("--border");
    const axis = { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } };
    this.plot = new uPlot({
      width: el.clientWidth || 400,
      height: 180,
      cursor: { drag: { x: false, y: false } },
      legend: { show: false },
      scales: { x: { time: true, range: (u, min, max) => xRange(min, max) }, len: { auto: true, range: (u, min, max) => [0, Math.max(5, max)] },
        rate: { auto: true, range: (u, min, max) => [0, Math.max(5, max)] } },
      series: [
        {},
        { label: "list length", scale: "len", stroke: cssVar("--accent"), width: 2 },
        { label: "mutations/s", scale: "rate", stroke: cssVar("--warn"), width: 1.5,
          fill: "rgba(240,180,41,0.10)" },
      ],
      axes: [
        { ...axis, space: 80, values: timeLabels },
        { ...axis, scale: "len", label: "list length", labelSize: 18, size: 50 },
        { ...axis, scale: "rate", side: 1, label: "mutations/s", labelSize: 18, size: 50, grid: { show: false } },
      ],
    }, this.data, el);
    new ResizeObserver(() => this.plot.setSize({ width: el.clientWidth, height: 180 })).observe(el);
  }

  push(t, listLength, rate) {
    const [xs, lens, rates] = this.data;
    xs.push(t); lens.push(listLength); rates.push(rate);
    if (xs.length > WINDOW) { xs.shift(); lens.shift(); rates.shift(); }
    this.plot.setData(this.data);
  }
}
