// The demo page: the browser SDK driven by a form. No framework, no build step.
import { Livetape, LivetapeError } from "/sdk/livetape.js";

const $ = (id) => document.getElementById(id);
const fields = { url: $("server-url"), token: $("token"), room: $("room") };
const SOURCES = { camera: "the camera", screen: "the screen" };
const PREVIEWS = { camera: $("preview"), screen: $("screen-preview") };
const STATUS_NAMES = { "-1": "not yet stored", 2: "normal", 4: "processing", 7: "failed" };
let client = null;       // the Livetape of the current publications (or of the last request)
let clientKey = "";      // the form values the client was made from
const recording = {};    // source type -> the id of its recording started here

fields.url.value = location.origin;
const query = new URLSearchParams(location.search);  // ?room=... prefills the room
if (query.get("room")) fields.room.value = query.get("room");

/** The client for the form's values; kept while publishing so recording uses the same one. */
function current() {
  const wanted = { url: fields.url.value.trim(), token: fields.token.value.trim(),
                   room: fields.room.value.trim() };
  const key = JSON.stringify(wanted);
  if (!client || (client.publications.size === 0 && key !== clientKey)) {
    client = new Livetape(wanted);
    clientKey = key;
  }
  return client;
}

const publishing = (srcType) => Boolean(client?.publications.has(srcType));

function status(text) {
  $("status").textContent = text;
}

function showError(error) {
  const box = $("error");
  if (error instanceof LivetapeError) {
    $("error-code").textContent = String(error.code);
    $("error-message").textContent = error.message;
    $("error-hint").textContent = error.hint || "none";
  } else {
    $("error-code").textContent = error?.name || "Error";
    $("error-message").textContent = error?.message || String(error);
    $("error-hint").textContent = error?.name === "NotAllowedError"
      ? "allow camera or screen access for this page (it needs HTTPS or localhost), and pick " +
        "something to share" : "none";
  }
  box.dataset.code = error instanceof LivetapeError ? String(error.code) : "";
  box.hidden = false;
  status("Failed: " + (error?.message || error));
}

/** The buttons that depend on what is published. */
function refresh() {
  $("publish").disabled = publishing("camera");
  $("share").disabled = publishing("screen");
  $("leave").disabled = !client || client.publications.size === 0;
  const now = Object.entries(recording).map(([srcType, id]) => `${srcType}: ${id}`);
  $("recording-now").textContent = now.join(", ") || "nothing";
}

/** Run a button's action with the button disabled and errors shown. */
async function act(button, action) {
  $("error").hidden = true;
  button.disabled = true;
  try {
    await action();
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
    refresh();
  }
}

/** Publish the camera or the screen (getDisplayMedia needs this click's user gesture). */
function publish(srcType) {
  return async () => {
    status(`Publishing ${SOURCES[srcType]}...`);
    const lt = current();
    const publication = await lt.publish({ [srcType]: true });
    PREVIEWS[srcType].srcObject = publication.stream;
    publication.addEventListener("ended", () => {
      // the browser's "Stop sharing" (or an unplugged camera): the SDK left that stream
      PREVIEWS[srcType].srcObject = null;
      delete recording[srcType];
      refresh();
      showCodecs();
      status(`${SOURCES[srcType]} ended: left that stream (its recording, if any, ended).`);
    });
    status(`Publishing ${SOURCES[srcType]} in room ${lt.room}.`);
    showCodecs();
  };
}

$("join").addEventListener("submit", (event) => {
  event.preventDefault();
  act($("publish"), publish("camera"));
});

$("share").addEventListener("click", () => act($("share"), publish("screen")));

$("leave").addEventListener("click", () => act($("leave"), async () => {
  for (const preview of Object.values(PREVIEWS)) preview.srcObject = null;
  $("codecs").textContent = "nothing";
  for (const srcType of Object.keys(recording)) delete recording[srcType];
  await client?.leave();
  status("Left the room.");
}));

const selectedSource = () => document.querySelector("input[name=source]:checked").value;

/** The form's recording options, as startRecording takes them (empty fields left out). */
function recordingOptions() {
  const classId = $("class-id").value.trim();
  const tags = $("tags").value.split(",").map((tag) => tag.trim()).filter(Boolean);
  return {
    fileName: $("file-name").value,
    srcType: selectedSource(),
    recordType: $("record-type").value,
    classId: classId === "" ? undefined : Number(classId),
    tags: tags.length ? tags : undefined,
    transcode: $("transcode").checked,
    screenshot: $("screenshot").checked,
    watermark: $("watermark").checked,
  };
}

$("record").addEventListener("submit", (event) => {
  event.preventDefault();
  act($("start"), async () => {
    const options = recordingOptions();
    const id = await current().startRecording(options);
    recording[options.srcType] = id;
    $("recording-id").textContent = id;
    status(`Recording ${id} (${options.srcType}).`);
  });
});

$("stop").addEventListener("click", () => act($("stop"), async () => {
  const srcType = selectedSource();
  let fileIds;
  try {
    fileIds = await current().stopRecording({ srcType });
    status(`Stopped: ${fileIds.length} file(s) of the ${srcType}.`);
  } catch (error) {
    // 30000413: it ended by itself (publisher left, idle...); its files come with the error
    if (!(error instanceof LivetapeError) || error.code !== 30000413) throw error;
    fileIds = error.body.file_ids || [];
    status(`The ${srcType} recording had already ended (${error.body.end_reason}): ` +
           `${fileIds.length} file(s).`);
  } finally {
    delete recording[srcType];
  }
  await showFiles(fileIds);
}));

/** The codecs really being sent, once the connections report them. */
async function showCodecs() {
  for (let i = 0; i < 20 && client; i++) {
    const parts = [];
    let pending = false;
    for (const [srcType, publication] of client.publications) {
      const stats = await publication.stats();
      if (!stats.video && !stats.audio) pending = true;
      const size = stats.width ? ` ${stats.width}x${stats.height}` : "";
      parts.push(`${srcType}: ${[stats.video, stats.audio].filter(Boolean).join(", ")}${size}`);
    }
    $("codecs").textContent = parts.join("; ") || "nothing";
    if (!pending) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** A list entry per file: its id and details, and a player when the user may fetch it. */
async function showFiles(fileIds) {
  for (const fileId of fileIds) {
    const item = document.createElement("li");
    item.dataset.fileId = fileId;
    const id = document.createElement("code");
    id.textContent = fileId;
    item.append(id);
    $("files").prepend(item);
    try {
      const file = await client.file(fileId);
      Object.assign(item.dataset, {
        duration: String(file.duration), srcType: file.src_type, classId: String(file.class_id),
        tags: file.tags.join(","), status: String(file.status),
      });
      const tags = file.tags.length ? file.tags.join(", ") : "none";
      item.append(` ${file.file_name} (${file.src_type}), ${file.duration.toFixed(1)} s, ` +
                  `${file.video_codec || "no video"} + ${file.audio_codec || "no audio"}` +
                  `${file.width ? `, ${file.width}x${file.height}` : ""}; class ` +
                  `${file.class_id}, tags ${tags}, status ` +
                  `${STATUS_NAMES[file.status] || file.status}`);
      const original = file.play_set.find((play) => play.definition === 0);
      if (original) {
        const player = document.createElement(file.video_codec ? "video" : "audio");
        player.controls = true;
        player.preload = "metadata";
        player.src = original.url;
        player.setAttribute("aria-label", `recorded file ${file.file_name}`);
        const link = document.createElement("a");
        link.href = original.url;
        link.textContent = "download MP4";
        item.append(document.createElement("br"), player, document.createElement("br"), link);
      }
    } catch (error) {
      item.append(` (no play URL: ${error.message})`);
    }
  }
}
