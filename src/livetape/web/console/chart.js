// Daily charts drawn as inline SVG (no chart library). Each chart is an image with a title
// and a text summary for screen readers, and every bar or point carries a tooltip; the
// usage view adds the same figures as a table.

const NS = "http://www.w3.org/2000/svg";
const WIDTH = 760;
const HEIGHT = 220;
const PAD = { top: 12, right: 12, bottom: 28, left: 72 };
export const PALETTE = ["#1a5fb4", "#e66100", "#26a269", "#9141ac", "#c01c28", "#865e3c"];

function s(tag, attrs = {}, ...children) {
  const element = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, String(value));
  for (const child of children) {
    if (child !== null && child !== undefined) {
      element.append(child instanceof Node ? child : String(child));
    }
  }
  return element;
}

/** A round upper bound for an axis (1, 2 or 5 times a power of ten). */
function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= value);
}

function frame(id, title, summary, max, format, days) {
  const svg = s("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", id,
                         "aria-labelledby": `${id}-title ${id}-desc`, class: "chart" },
    s("title", { id: `${id}-title` }, title), s("desc", { id: `${id}-desc` }, summary));
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  for (let tick = 0; tick <= 4; tick += 1) {
    const y = PAD.top + plotHeight - (plotHeight * tick) / 4;
    svg.append(s("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y, y2: y,
                           class: tick ? "grid" : "axis" }),
               s("text", { x: PAD.left - 6, y: y + 4, "text-anchor": "end", class: "tick" },
                 format((max * tick) / 4)));
  }
  const every = Math.max(1, Math.ceil(days.length / 10));
  const step = (WIDTH - PAD.left - PAD.right) / Math.max(1, days.length);
  days.forEach((day, index) => {
    if (index % every === 0) {
      svg.append(s("text", { x: PAD.left + step * (index + 0.5), y: HEIGHT - 8,
                             "text-anchor": "middle", class: "tick" }, day.slice(5)));
    }
  });
  return { svg, step, plotHeight };
}

function summarize(title, days, totals, format) {
  if (!days.length) return `${title}: no days.`;
  let top = 0;
  totals.forEach((value, index) => { if (value > totals[top]) top = index; });
  return `${title} from ${days[0]} to ${days[days.length - 1]}: highest ${format(totals[top])}`
    + ` on ${days[top]}.`;
}

/** Stacked bars per day: series = [{name, values}] (values parallel to days). */
export function barChart({ id, title, days, series, format }) {
  const totals = days.map((_, i) => series.reduce((sum, one) => sum + (one.values[i] || 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const { svg, step, plotHeight } = frame(id, title, summarize(title, days, totals, format),
                                          max, format, days);
  const barWidth = Math.max(1, step * 0.7);
  days.forEach((day, index) => {
    let base = PAD.top + plotHeight;
    series.forEach((one, which) => {
      const value = one.values[index] || 0;
      if (value <= 0) return;
      const height = (plotHeight * value) / max;
      base -= height;
      svg.append(s("rect", { x: PAD.left + step * index + (step - barWidth) / 2, y: base,
                             width: barWidth, height, fill: PALETTE[which % PALETTE.length],
                             class: "bar" },
        s("title", {}, `${day}${series.length > 1 ? ` \u00b7 ${one.name}` : ""}: `
          + format(value))));
    });
  });
  return svg;
}

/** A line with its area, one point per day. */
export function lineChart({ id, title, days, values, format }) {
  const max = niceMax(Math.max(0, ...values));
  const { svg, step, plotHeight } = frame(id, title, summarize(title, days, values, format),
                                          max, format, days);
  const points = values.map((value, index) => [PAD.left + step * (index + 0.5),
                                               PAD.top + plotHeight - (plotHeight * value) / max]);
  if (points.length) {
    const bottom = PAD.top + plotHeight;
    const line = points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
    svg.append(
      s("polygon", { points: `${points[0][0]},${bottom} ${line} ${points.at(-1)[0]},${bottom}`,
                     class: "area" }),
      s("polyline", { points: line, class: "line" }));
    points.forEach(([x, y], index) => svg.append(s("circle", { cx: x, cy: y, r: 3,
                                                                class: "point" },
      s("title", {}, `${days[index]}: ${format(values[index])}`))));
  }
  return svg;
}
