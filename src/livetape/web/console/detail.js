// One library file (#/files/ID): the player, what the file is, changing its name,
// description, category and tags (ModifyVodInfo), processing, and deleting it.
import { createPlayer } from "./player.js";
import { gallery, jobsTable, processingForms } from "./processing.js";
import {
  bytes, classOptions, confirmAction, duration, field, fill, flattenClasses, h, splitList,
  statusText, when,
} from "./ui.js";

const POLL_MS = 1500;

function facts(file, names) {
  const video = file.video_codec
    ? `${file.video_codec} ${file.width}\u00d7${file.height}` : "none (audio only)";
  const rows = [
    ["File id", h("code", {}, file.file_id)],
    ["Status", [h("span", { class: `badge status-${file.status}`, id: "file-status" },
                  statusText(file)), file.status_reason ? ` ${file.status_reason}` : ""]],
    ["Created", when(file.create_time)],
    ["Duration", duration(file.duration)],
    ["Size", `${bytes(file.size)} (with renditions ${bytes(file.storage_size)})`],
    ["Video", video],
    ["Audio", file.audio_codec || "none"],
    ["Bitrate", file.bitrate ? `${Math.round(file.bitrate / 1000)} kbit/s` : ""],
    ["Recorded from", `${file.user_id}'s ${file.src_type} in room ${file.room_id}`],
    ["Recording", h("code", {}, file.recording_id)],
    ["Category", file.class_id ? names.get(file.class_id) || `#${file.class_id}`
      : "Uncategorized"],
    ["Tags", (file.tags || []).map((tag) => h("span", { class: "tag" }, tag))],
    ["Expires", when(file.expire_time)],
  ];
  return rows.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]);
}

function editForm(file, flat, save) {
  const name = h("input", { id: "edit-name", name: "file_name", required: true, maxlength: 40,
                            pattern: "[^\\/]+", value: file.file_name, spellcheck: "false" });
  const description = h("textarea", { id: "edit-description", name: "description", rows: 2,
                                      maxlength: 1000 });
  description.value = file.description || "";
  const category = h("select", { id: "edit-class", name: "class_id" },
    classOptions(flat, file.class_id, [["0", "Uncategorized"]]));
  const tags = h("input", { id: "edit-tags", name: "tags", value: (file.tags || []).join(", "),
                            spellcheck: "false" });
  const form = h("form", { id: "edit-form", class: "stack" }, h("fieldset", {},
    h("legend", {}, "Details"),
    field("Name", name, "At most 40 characters, no \u201c/\u201d; play info searches it"),
    field("Description", description),
    field("Category", category),
    field("Tags", tags, "Comma-separated"),
    h("button", { type: "submit", id: "save-button" }, "Save changes")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save(event.submitter, {
      file_name: name.value.trim(), description: description.value,
      class_id: Number(category.value), tags: splitList(tags.value),
    });
  });
  return form;
}

export async function render(root, { id }, ctx) {
  const path = `/v1/vod/files/${encodeURIComponent(id)}`;
  const [first, classes] = await Promise.all([ctx.api("GET", path),
                                              ctx.api("GET", "/v1/vod/classes")]);
  const flat = flattenClasses(classes.class_set);
  const names = new Map(flat.map((node) => [node.class_id, node.path]));
  let file = first;
  let busy = false;
  let wanted = 0;  // polls still to make after a request (its job may not show at once)

  const title = h("h1", { id: "file-title" }, file.file_name);
  const player = createPlayer(file);
  const info = h("dl", { id: "file-info", class: "facts" });
  const jobs = h("div", { id: "jobs" });
  const images = h("div", { id: "snapshots" });

  function show(current) {
    file = current;
    fill(title, current.file_name);
    player.update(current);
    fill(info, facts(current, names));
    const table = jobsTable(current.jobs || []);
    fill(jobs, table.element);
    busy = table.busy || current.status === 4 || current.status === -1;
    fill(images, gallery(current));
  }

  async function poll() {
    if (!busy && wanted <= 0) return;
    wanted -= 1;
    try {
      show(await ctx.api("GET", path));
    } catch (error) {
      ctx.showError(error);
    }
  }

  async function queued(message) {
    ctx.announce(message);
    wanted = 3;
    show(await ctx.api("GET", path));
  }

  async function save(button, changes) {
    const patch = {};
    for (const [key, value] of Object.entries(changes)) {
      if (JSON.stringify(value) !== JSON.stringify(file[key] ?? (key === "tags" ? [] : ""))) {
        patch[key] = value;
      }
    }
    if (!Object.keys(patch).length) {
      ctx.announce("Nothing changed.");
      return;
    }
    button.disabled = true;
    ctx.clearError();
    try {
      const saved = await ctx.api("PATCH", path, { json: patch });
      show({ ...saved, jobs: file.jobs });
      ctx.announce(`Saved ${Object.keys(patch).join(", ").replaceAll("_", " ")}.`);
    } catch (error) {
      ctx.showError(error);
    } finally {
      button.disabled = false;
    }
  }

  const remove = h("button", { type: "button", id: "delete-button", class: "danger" },
                   "Delete this file\u2026");
  remove.addEventListener("click", async () => {
    const name = file.file_name;
    const sure = await confirmAction({ title: `Delete \u201c${name}\u201d?`, action: "Delete file",
      text: "The original, its renditions and images are deleted and its play URLs stop "
        + "working. This cannot be undone." });
    if (!sure) return;
    try {
      player.release();
      await ctx.api("DELETE", path);
      ctx.go("#/library", `Deleted \u201c${name}\u201d.`);
    } catch (error) {
      ctx.showError(error);
    }
  });

  show(file);
  root.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/library" }, "\u2190 Library")),
    title,
    h("div", { class: "detail" },
      h("div", {}, player.element,
        h("section", { "aria-labelledby": "images-title" },
          h("h2", { id: "images-title" }, "Cover and snapshots"), images)),
      h("div", {},
        h("section", { "aria-labelledby": "about-title" },
          h("h2", { id: "about-title" }, "About"), info),
        editForm(file, flat, save))),
    h("section", { "aria-labelledby": "processing-title" },
      h("h2", { id: "processing-title" }, "Processing"),
      processingForms(id, ctx, queued),
      h("h3", {}, "Jobs"), jobs),
    h("section", { "aria-labelledby": "delete-title", class: "danger-zone" },
      h("h2", { id: "delete-title" }, "Delete"), remove));
  ctx.every(POLL_MS, poll);
  ctx.onLeave(player.release);
}
