// A file's processing: transcode / snapshot / watermark requests (each queues jobs that the
// workers run), the jobs with their progress, and the snapshots taken.
import { field, h, splitList, when } from "./ui.js";

const LADDER = [[10, "360p MP4"], [20, "720p MP4"], [30, "1080p MP4"],
                [210, "360p HLS"], [220, "720p HLS"], [230, "1080p HLS"]];

function checkbox(id, label, checked = false, value = "on") {
  return h("div", { class: "check" },
    h("input", { type: "checkbox", id, name: id, value, checked }),
    h("label", { for: id }, label));
}

/** The three request forms; `queued(message)` is called after a request was accepted. */
export function processingForms(fileId, ctx, queued) {
  const path = `/v1/vod/files/${encodeURIComponent(fileId)}`;
  const run = async (button, request) => {
    button.disabled = true;
    ctx.clearError();
    try {
      await queued(await request());
    } catch (error) {
      ctx.showError(error);
    } finally {
      button.disabled = false;
    }
  };

  const transcode = h("form", { id: "transcode-form", class: "stack" },
    h("fieldset", {}, h("legend", {}, "Transcode"),
      h("div", { class: "checks" }, LADDER.map(([definition, label]) =>
        checkbox(`t-${definition}`, `${label} (${definition})`, definition === 10,
                 String(definition)))),
      checkbox("t-watermark", "Also make the watermarked original (1)"),
      checkbox("t-screenshot", "Also take a cover and snapshots"),
      h("button", { type: "submit", id: "transcode-button" }, "Transcode")));
  transcode.addEventListener("submit", (event) => {
    event.preventDefault();
    const definitions = LADDER.map(([d]) => d).filter((d) => transcode[`t-${d}`].checked);
    run(event.submitter, async () => {
      const done = await ctx.api("POST", `${path}/convert`, { json: {
        definitions, watermark: transcode["t-watermark"].checked,
        screenshot: transcode["t-screenshot"].checked } });
      return `Transcode queued: ${done.jobs.length} job${done.jobs.length === 1 ? "" : "s"}.`;
    });
  });

  const offsets = h("input", { id: "snap-offsets", name: "offsets", inputmode: "decimal",
                               placeholder: "1, 2.5", spellcheck: "false" });
  const snapshot = h("form", { id: "snapshot-form", class: "stack" },
    h("fieldset", {}, h("legend", {}, "Snapshots"),
      field("Times (seconds)", offsets, "Comma-separated offsets into the file"),
      checkbox("snap-cover", "Also take a new cover"),
      h("button", { type: "submit", id: "snapshot-button" }, "Take snapshots")));
  snapshot.addEventListener("submit", (event) => {
    event.preventDefault();
    const seconds = splitList(offsets.value).map(Number);
    if (seconds.some((s) => !Number.isFinite(s) || s < 0)) {
      ctx.showError({ code: "input", message: "times must be numbers of seconds, like 1, 2.5",
                      hint: "separate them with commas" });
      offsets.focus();
      return;
    }
    run(event.submitter, async () => {
      await ctx.api("POST", `${path}/snapshots`, { json: {
        time_offsets_ms: seconds.map((s) => Math.round(s * 1000)),
        cover: snapshot["snap-cover"].checked } });
      offsets.value = "";
      return "Snapshot job queued.";
    });
  });

  const watermarkButton = h("button", { type: "button", id: "watermark-button" }, "Watermark");
  watermarkButton.addEventListener("click", () => run(watermarkButton, async () => {
    await ctx.api("POST", `${path}/watermark`);
    return "Watermark job queued.";
  }));
  const watermark = h("div", { class: "stack" }, h("fieldset", {},
    h("legend", {}, "Watermark"),
    h("p", { class: "note", id: "watermark-help" }, "Makes definition 1: the original with the "
      + "app's watermark PNG (set with PUT /v1/vod/watermark) blended in."),
    watermarkButton));
  watermarkButton.setAttribute("aria-describedby", "watermark-help");
  return h("div", { class: "processing" }, transcode, snapshot, watermark);
}

/** The jobs table (newest first) and whether any is still to finish. */
export function jobsTable(jobs) {
  if (!jobs.length) return { element: h("p", { id: "jobs-empty" }, "No processing jobs yet."),
                             busy: false };
  const rows = jobs.map((job) => {
    const progress = h("progress", { max: 100, value: job.progress ?? 0,
      "aria-label": `${job.kind} job ${job.job_id} progress` });
    return h("tr", { dataset: { jobId: job.job_id, state: job.state } },
      h("td", {}, job.kind, h("small", { class: "block" }, job.job_id)),
      h("td", {}, h("span", { class: `badge job-${job.state}` }, job.state)),
      h("td", {}, progress, ` ${Math.round(job.progress ?? 0)} %`),
      h("td", { class: "num" }, String(job.attempts)),
      h("td", {}, when(job.create_time)),
      h("td", {}, job.finish_time ? when(job.finish_time) : ""),
      h("td", { class: "reason" }, job.error || ""));
  });
  return {
    element: h("table", { class: "grid", id: "jobs-table" },
      h("caption", { class: "visually-hidden" }, "Processing jobs"),
      h("thead", {}, h("tr", {}, ["Job", "State", "Progress", "Runs", "Queued", "Finished",
                                  "Error"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows)),
    busy: jobs.some((job) => job.state === "queued" || job.state === "running"),
  };
}

/** The cover and the snapshots, as a gallery. */
export function gallery(file) {
  const figures = [];
  if (file.image_url) {
    figures.push(h("figure", { id: "cover" }, h("img", { src: file.image_url,
      alt: `Cover of ${file.file_name}` }), h("figcaption", {}, "Cover")));
  }
  for (const snap of [...(file.snapshots || [])].sort((a, b) =>
    a.time_offset_ms - b.time_offset_ms)) {
    const at = `${(snap.time_offset_ms / 1000).toFixed(1)} s`;
    figures.push(h("figure", { class: "snapshot", dataset: { offset: snap.time_offset_ms } },
      h("a", { href: snap.url, target: "_blank", rel: "noopener" },
        h("img", { src: snap.url, alt: `Snapshot at ${at}` })),
      h("figcaption", {}, `At ${at} (${snap.width}\u00d7${snap.height})`)));
  }
  return figures.length ? h("div", { class: "gallery" }, figures)
    : h("p", {}, "No cover or snapshots yet.");
}
