// The dashboard's charts, drawn by uPlot (vendored: vendor/README.md; ADR 0029). No inline styles or code: uPlot
// sizes its elements through the CSSOM, which the page's Content-Security-Policy allows.
"use strict";

const PALETTE = ["#2f6fdf", "#d9480f", "#2b8a3e", "#9c36b5", "#e67700", "#0b7285", "#c2255c", "#5c940d"];

function seriesColour(index) {
  return PALETTE[index % PALETTE.length];
}

// A chart that follows its container's width, and is made again when its series change (a new currency).
class LedgerChart {
  // kind: "bars" (one bar per minute), "line" or "steps" (a value that holds until the next one); format: how an
  // axis tick and a legend value read; perMinute: pad the time axis half a minute each side so that the first
  // and the current minute are whole.
  constructor(target, { height = 200, kind = "line", yLabel = "", format = (v) => String(v), perMinute = false }) {
    this.target = target;
    this.perMinute = perMinute;
    this.height = height;
    this.kind = kind;
    this.yLabel = yLabel;
    this.format = format;
    this.plot = null;
    this.labels = null;
    new ResizeObserver(() => this.resize()).observe(target);
  }

  width() {
    return Math.max(240, Math.floor(this.target.clientWidth));
  }

  resize() {
    if (this.plot && this.plot.width !== this.width()) this.plot.setSize({ width: this.width(), height: this.height });
  }

  paths() {
    if (this.kind === "bars") return uPlot.paths.bars({ size: [0.7, 24], align: 0 });
    if (this.kind === "steps") return uPlot.paths.stepped({ align: 1 });
    return uPlot.paths.linear();
  }

  xRange(min, max) {
    return this.perMinute ? [min - 30, max + 30] : [min, max];
  }

  options(series) {
    const format = this.format;
    return {
      width: this.width(),
      height: this.height,
      scales: {
        x: { time: true, range: (_u, min, max) => this.xRange(min, max) },
        y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        { stroke: "#566", grid: { stroke: "#eef0f3" } },
        { stroke: "#566", grid: { stroke: "#eef0f3" }, size: 70, label: this.yLabel, values: (_u, ticks) => ticks.map(format) },
      ],
      cursor: { drag: { x: false, y: false } },
      series: [
        {},
        ...series.map((one, index) => ({
          label: one.label,
          stroke: seriesColour(index),
          fill: this.kind === "bars" ? seriesColour(index) + "55" : undefined,
          width: 2,
          paths: this.paths(),
          points: { show: this.kind === "steps", size: 5 },
          value: (_u, v) => (v == null ? "–" : format(v)),
        })),
      ],
    };
  }

  // xs: epoch seconds; series: [{ label, values }] with one value per x.
  show(xs, series) {
    const labels = series.map((one) => one.label).join("|");
    const data = [xs, ...series.map((one) => one.values)];
    if (this.plot === null || labels !== this.labels) {
      if (this.plot !== null) this.plot.destroy();
      this.plot = new uPlot(this.options(series), data, this.target);
      this.labels = labels;
    } else {
      this.plot.setData(data);
    }
    // How many points of the chart are not 0 (for the browser test, and a reader of the page's attributes).
    this.target.dataset.series = labels;
    this.target.dataset.points = String(series.reduce((n, one) => n + one.values.filter((v) => v).length, 0));
  }
}

window.LedgerChart = LedgerChart;
window.seriesColour = seriesColour;
