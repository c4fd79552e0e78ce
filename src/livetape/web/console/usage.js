// Usage (#/usage?from=&to=): storage, traffic and transcoding per UTC day from
// GET /v1/billing/usage, as charts and a table. A day's cost is shown when the server
// reports one (a `cost` field); nothing depends on it.
import { barChart, lineChart, PALETTE } from "./chart.js";
import { bytes, field, h } from "./ui.js";

const TIERS = ["sd", "hd", "fhd", "2k", "4k"];

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

function daysAgo(count) {
  const date = new Date();
  date.setUTCDate(date.getUTCDate() - count);
  return isoDay(date);
}

/** A day's cost as a number, whatever shape the server gives it (a number, a decimal
 * string, or an object with a total or parts); null when there is none. */
export function costOf(day) {
  const cost = day.cost;
  if (cost === undefined || cost === null) return null;
  if (typeof cost === "number" || typeof cost === "string") {
    const value = Number(cost);
    return Number.isFinite(value) ? value : null;
  }
  if (typeof cost === "object") {
    if ("total" in cost) return costOf({ cost: cost.total });
    const parts = Object.values(cost).map((part) => costOf({ cost: part }));
    return parts.some((part) => part !== null) ? parts.reduce((a, b) => a + (b || 0), 0) : null;
  }
  return null;
}

let currency = "CNY";

function money(value) {
  return `${value.toFixed(value !== 0 && Math.abs(value) < 1 ? 4 : 2)} ${currency}`;
}

function minutes(value) {
  return `${Number(value.toFixed(value < 10 ? 2 : 1))} min`;
}

function figure(chart, caption, legend = null) {
  return h("figure", { class: "chart-figure" }, h("figcaption", {}, caption), chart, legend);
}

function legendFor(names) {
  return h("ul", { class: "legend", "aria-hidden": "true" }, names.map((name, index) =>
    h("li", {}, h("span", { class: `swatch swatch-${index % PALETTE.length}` }), name)));
}

function rangeForm(first, last, ctx) {
  const from = h("input", { id: "usage-from", name: "from", type: "date", value: first });
  const to = h("input", { id: "usage-to", name: "to", type: "date", value: last });
  const form = h("form", { id: "usage-range", class: "inline-fields",
                           "aria-label": "Days to show (UTC)" },
    field("From", from), field("To (inclusive)", to),
    h("button", { type: "submit", id: "usage-show" }, "Show"),
    h("p", { class: "quick" }, "Last ", [7, 30, 90].map((n) => [h("a", {
      href: `#/usage?from=${daysAgo(n - 1)}&to=${daysAgo(0)}`, id: `last-${n}` }, `${n} days`),
      " "])));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    ctx.go(`#/usage?${new URLSearchParams({ from: from.value, to: to.value })}`);
  });
  return form;
}

export async function render(root, { params }, ctx) {
  const last = params.get("to") || daysAgo(0);
  const first = params.get("from") || daysAgo(29);
  const [usage, balance] = await Promise.all([
    ctx.api("GET", "/v1/billing/usage", { params: { from: first, to: last } }),
    ctx.api("GET", "/v1/billing/balance").catch(() => null)]);
  const days = usage.days;
  currency = usage.currency || "CNY";
  const labels = days.map((day) => day.day);
  const storage = days.map((day) => day.storage_peak_bytes || 0);
  const traffic = days.map((day) => day.traffic_bytes || 0);
  const tiers = TIERS.filter((tier) => days.some((day) => day.transcode_minutes?.[tier]));
  const costs = days.map(costOf);
  const hasCost = costs.some((cost) => cost !== null);
  const sum = (values) => values.reduce((a, b) => a + (b || 0), 0);
  const transcodeTotal = sum(days.map((day) => sum(Object.values(day.transcode_minutes || {}))));

  const facts = [
    ["Traffic", bytes(sum(traffic))],
    ["Highest storage", bytes(Math.max(0, ...storage))],
    ["Transcoding", minutes(transcodeTotal)],
  ];
  if (hasCost) {
    const estimated = days.some((day) => day.billed === false);
    facts.push([estimated ? "Cost (some days estimated)" : "Cost", money(sum(costs))]);
  }
  if (balance) facts.push(["Balance now", `${balance.balance} ${balance.currency || currency}`]);

  const charts = [
    figure(lineChart({ id: "chart-storage", title: "Storage (daily peak)", days: labels,
                       values: storage, format: bytes }), "Storage: the day's peak"),
    figure(barChart({ id: "chart-traffic", title: "Playback traffic per day", days: labels,
                      series: [{ name: "traffic", values: traffic }], format: bytes }),
           "Playback traffic per day"),
    figure(barChart({ id: "chart-transcode", title: "Transcoding per day (output minutes)",
                      days: labels, format: minutes, series: (tiers.length ? tiers : ["sd"])
        .map((tier) => ({ name: tier, values: days.map((d) => d.transcode_minutes?.[tier] || 0) }),
        ) }), "Transcoding per day, by resolution tier", legendFor(tiers)),
  ];
  if (hasCost) {
    charts.push(figure(barChart({ id: "chart-cost", title: "Cost per day", days: labels,
      series: [{ name: "cost", values: costs.map((c) => c || 0) }], format: money }),
      "Cost per day"));
  }

  const head = ["Day (UTC)", "Traffic", "Storage peak", "Transcoding", ...(hasCost ? ["Cost"] : [])];
  const table = h("table", { class: "grid", id: "usage-table" },
    h("caption", {}, "Usage per day"),
    h("thead", {}, h("tr", {}, head.map((title) => h("th", { scope: "col" }, title)))),
    h("tbody", {}, days.map((day, index) => h("tr", {},
      h("th", { scope: "row" }, day.day), h("td", { class: "num" }, bytes(traffic[index])),
      h("td", { class: "num" }, bytes(storage[index])),
      h("td", { class: "num" }, minutes(sum(Object.values(day.transcode_minutes || {})))),
      hasCost ? h("td", { class: "num" }, costs[index] === null ? "" : money(costs[index]),
        day.billed === false ? h("small", { class: "block" }, "estimate") : null) : null))));

  root.append(
    h("h1", {}, "Usage"),
    h("p", { class: "lead" }, "What the library stored, served and transcoded, per UTC day."),
    rangeForm(first, last, ctx),
    h("dl", { class: "facts summary", id: "usage-summary" },
      facts.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])),
    h("div", { class: "charts" }, charts),
    h("details", { id: "usage-details" }, h("summary", {}, "The same figures as a table"),
      table));
}
