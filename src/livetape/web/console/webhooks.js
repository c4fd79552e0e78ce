// Webhooks (#/webhooks): the app's endpoints (GET /v1/app/webhooks), a form that adds one
// (its secret is shown once), and each endpoint's recent deliveries with their last attempt
// (GET .../deliveries), each with a button that sends it again.
import { field, fill, h } from "./ui.js";

const REFRESH_MS = 5000;
const RECENT = 20;

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

function addForm(ctx, shown) {
  const url = h("input", { id: "webhook-url", name: "url", type: "url", required: true,
                           placeholder: "https://app.example.org/hooks/livetape" });
  const events = h("input", { id: "webhook-events", name: "events",
                              placeholder: "all (or e.g. file.ready, recording.failed)" });
  const form = h("form", { id: "webhook-add", class: "inline-fields",
                           "aria-label": "Add a webhook" },
    field("Receiver URL", url), field("Event types", events, "comma-separated; empty: all"),
    h("button", { type: "submit" }, "Add webhook"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    ctx.clearError();
    const types = events.value.split(",").map((t) => t.trim()).filter(Boolean);
    try {
      const made = await ctx.api("POST", "/v1/app/webhooks", { json: {
        url: url.value.trim(), ...(types.length ? { events: types } : {}) } });
      fill(shown, h("p", {}, "Its signing secret, shown this once (verify deliveries with "
        + "Standard Webhooks): "), h("code", { id: "webhook-secret" }, made.secret));
      shown.hidden = false;
      url.value = events.value = "";
      ctx.announce(`Webhook ${made.webhook_id} added.`);
      await ctx.refreshHooks();
    } catch (error) {
      ctx.showError(error);
    }
  });
  return form;
}

function deliveryRows(hook, deliveries, ctx) {
  return deliveries.map((d) => {
    const again = h("button", { type: "button",
                                "aria-label": `Send ${d.event_type} ${d.event_id} again` },
                    "Redeliver");
    again.addEventListener("click", async () => {
      again.disabled = true;
      try {
        await ctx.api("POST", `/v1/app/webhooks/${encodeURIComponent(hook.webhook_id)}`
          + `/deliveries/${encodeURIComponent(d.delivery_id)}/redeliver`);
        ctx.announce(`${d.event_type} will be sent again.`);
        await ctx.refreshHooks();
      } catch (error) {
        ctx.showError(error);
        again.disabled = false;
      }
    });
    return h("tr", { dataset: { deliveryId: d.delivery_id, state: d.state } },
      h("td", {}, d.event_type), h("td", {}, h("code", {}, d.recording_id || "")),
      h("td", {}, d.state), h("td", { class: "num" }, String(d.attempts)),
      h("td", { class: "num" }, d.last_response_code === null ? "none"
                                : String(d.last_response_code)),
      h("td", { class: "num" }, d.last_latency_ms === null ? "" : `${d.last_latency_ms} ms`),
      h("td", {}, d.last_error), h("td", {}, when(d.delivered_at || d.next_attempt_at)),
      h("td", {}, again));
  });
}

function hookSection(hook, deliveries, ctx) {
  const remove = h("button", { type: "button", class: "danger",
                               "aria-label": `Delete webhook ${hook.url}` }, "Delete");
  remove.addEventListener("click", async () => {
    remove.disabled = true;
    try {
      await ctx.api("DELETE", `/v1/app/webhooks/${encodeURIComponent(hook.webhook_id)}`);
      ctx.announce(`Webhook ${hook.url} deleted.`);
      await ctx.refreshHooks();
    } catch (error) {
      ctx.showError(error);
      remove.disabled = false;
    }
  });
  const head = ["Event", "Recording", "State", "Attempts", "Last code", "Latency", "Last error",
                "Delivered / next try", "Action"];
  return h("section", { class: "webhook", dataset: { webhookId: hook.webhook_id } },
    h("h2", {}, hook.url),
    h("dl", { class: "facts" },
      h("dt", {}, "Events"), h("dd", {}, hook.events.length ? hook.events.join(", ") : "all"),
      h("dt", {}, "Secret"), h("dd", {}, h("code", {}, hook.secret)),
      h("dt", {}, "Added"), h("dd", {}, when(hook.created_at))),
    remove,
    deliveries.length ? h("table", { class: "grid deliveries" },
      h("caption", {}, `Recent deliveries (the latest ${RECENT})`),
      h("thead", {}, h("tr", {}, head.map((title) => h("th", { scope: "col" }, title)))),
      h("tbody", {}, deliveryRows(hook, deliveries, ctx)))
      : h("p", {}, "No deliveries yet."));
}

export async function render(root, _route, ctx) {
  const list = h("div", { id: "webhook-list" });
  const secret = h("div", { id: "webhook-new-secret", class: "notice", hidden: true });
  const view = { ...ctx };
  view.refreshHooks = async () => {
    const hooks = (await ctx.api("GET", "/v1/app/webhooks")).webhooks;
    const sections = [];
    for (const hook of hooks) {
      const found = await ctx.api(
        "GET", `/v1/app/webhooks/${encodeURIComponent(hook.webhook_id)}/deliveries`,
        { params: { limit: RECENT } });
      sections.push(hookSection(hook, found.deliveries, view));
    }
    fill(list, sections.length ? sections : h("p", { id: "webhook-empty" },
      "No webhooks: add one to be told when recordings end and files are ready."));
  };
  root.append(
    h("h1", {}, "Webhooks"),
    h("p", { class: "lead" }, "Where livetape POSTs this app's events (signed, retried until "
      + "your receiver answers 2xx), and what became of each delivery."),
    addForm(view, secret), secret, list);
  await view.refreshHooks();
  ctx.every(REFRESH_MS, () => view.refreshHooks().catch(ctx.showError));
}
