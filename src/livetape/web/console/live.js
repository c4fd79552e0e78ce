// "Recording now": the app's recordings in progress (GET /v1/recordings), refreshed every
// few seconds, each with a button that stops it (POST /v1/record, operation stop).
import { duration, fill, h } from "./ui.js";

const REFRESH_MS = 3000;

function currentFile(recording) {
  const part = recording.segment
    ? `file ${recording.segment}` : "waiting for a key frame";
  const landed = (recording.file_ids || []).length;
  return [h("span", { class: "name" }, recording.file_name), ` \u00b7 ${part}`,
          landed ? ` (${landed} already in the library)` : ""];
}

function describe(recording) {
  return `${recording.user_id}'s ${recording.src_type} in room ${recording.room_id}`;
}

export async function render(root, _route, ctx) {
  const tbody = h("tbody", { id: "live-rows" });
  const empty = h("p", { id: "live-empty", hidden: true }, "Nothing is being recorded.");
  const table = h("table", { id: "live-table", class: "grid" },
    h("caption", {}, "Recordings in progress (refreshed every few seconds)"),
    h("thead", {}, h("tr", {},
      ["Room", "User", "Source", "Elapsed", "Current file", "Recording", "Action"]
        .map((title) => h("th", { scope: "col" }, title)))),
    tbody);
  root.append(
    h("h1", {}, "Recording now"),
    h("p", { class: "lead" }, "Every stream of this app being recorded right now. Stopping "
      + "keeps what was recorded: the file lands in the library."),
    table, empty);

  const rows = new Map();  // recording_id -> {row, elapsed cell, started (ms, local clock)}

  function tick() {
    const now = performance.now();
    for (const entry of rows.values()) {
      fill(entry.elapsed, duration((now - entry.started) / 1000));
    }
  }

  async function stop(recording, button) {
    button.disabled = true;
    ctx.clearError();
    ctx.announce(`Stopping ${describe(recording)}\u2026`);
    try {
      const result = await ctx.api("POST", "/v1/record", { json: {
        operation: "stop", room_id: recording.room_id, user_id: recording.user_id,
        src_type: recording.src_type } });
      const count = result.file_ids.length;
      ctx.announce(`Stopped ${describe(recording)}: ${count} file${count === 1 ? "" : "s"} `
        + "in the library.");
    } catch (error) {
      ctx.showError(error);
      button.disabled = false;
    }
    await refresh();
  }

  function rowFor(recording) {
    const elapsed = h("td", { class: "num" });
    const file = h("td");
    const button = h("button", { type: "button", class: "danger",
                                 "aria-label": `Stop recording ${describe(recording)}` }, "Stop");
    button.addEventListener("click", () => stop(recording, button));
    const row = h("tr", { dataset: { recordingId: recording.recording_id } },
      h("td", {}, recording.room_id), h("td", {}, recording.user_id),
      h("td", {}, recording.src_type + (recording.record_type === "audio" ? " (audio)" : "")),
      elapsed, file, h("td", {}, h("code", {}, recording.recording_id)), h("td", {}, button));
    return { row, elapsed, file, started: 0 };
  }

  async function refresh() {
    let recordings;
    try {
      recordings = (await ctx.api("GET", "/v1/recordings")).recordings;
    } catch (error) {
      ctx.showError(error);
      return;
    }
    const now = performance.now();
    const seen = new Set(recordings.map((recording) => recording.recording_id));
    for (const [id, entry] of rows) {
      if (!seen.has(id)) {
        entry.row.remove();
        rows.delete(id);
      }
    }
    for (const [index, recording] of recordings.entries()) {
      let entry = rows.get(recording.recording_id);
      if (!entry) {
        entry = rowFor(recording);
        rows.set(recording.recording_id, entry);
      }
      // the server's order (oldest first); rows already in place are not moved, so a
      // focused Stop button keeps its focus
      if (tbody.children[index] !== entry.row) {
        tbody.insertBefore(entry.row, tbody.children[index] || null);
      }
      entry.started = now - recording.elapsed_seconds * 1000;
      fill(entry.file, currentFile(recording));
    }
    table.hidden = rows.size === 0;
    empty.hidden = rows.size !== 0;
    tick();
  }

  await refresh();
  ctx.every(1000, tick);
  ctx.every(REFRESH_MS, refresh);
}
