// The demo page: the browser SDK driven by a form. No framework, no build step.
import { Livetape, LivetapeError } from "/sdk/livetape.js";

const $ = (id) => document.getElementById(id);
const fields = { url: $("server-url"), token: $("token"), room: $("room") };
let client = null;       // the Livetape of the current publication (or of the last request)
let publication = null;
let clientKey = "";       // the form values the client was made from

fields.url.value = location.origin;
const query = new URLSearchParams(location.search);  // ?room=... prefills the room
if (query.get("room")) fields.room.value = query.get("room");

/** The client for the form's values; kept while publishing so recording uses the same one. */
function current() {
  const wanted = { url: fields.url.value.trim(), token: fields.token.value.trim(),
                   room: fields.room.value.trim() };
  const key = JSON.stringify(wanted);
  if (!publication && key !== clientKey) {
    client = new Livetape(wanted);
    clientKey = key;
  }
  return client;
}

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
      ? "allow camera access for this page (it needs HTTPS or localhost)" : "none";
  }
  box.dataset.code = error instanceof LivetapeError ? String(error.code) : "";
  box.hidden = false;
  status("Failed: " + (error?.message || error));
}

/** Run a button's action with the buttons disabled and errors shown. */
async function act(button, action) {
  $("error").hidden = true;
  button.disabled = true;
  try {
    await action();
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
    $("leave").disabled = !publication;
    $("publish").disabled = Boolean(publication);
  }
}

$("join").addEventListener("submit", (event) => {
  event.preventDefault();
  act($("publish"), async () => {
    status("Publishing the camera...");
    publication = await current().publish({ camera: true });
    $("preview").srcObject = publication.stream;
    status(`Publishing the camera in room ${client.room}.`);
    showCodecs();
  });
});

$("leave").addEventListener("click", () => act($("leave"), async () => {
  const leaving = publication;
  publication = null;
  $("preview").srcObject = null;
  $("codecs").textContent = "nothing";
  await leaving?.leave();
  status("Left the room.");
}));

$("record").addEventListener("submit", (event) => {
  event.preventDefault();
  act($("start"), async () => {
    const id = await current().startRecording({ fileName: $("file-name").value });
    $("recording-id").textContent = id;
    status(`Recording ${id}.`);
  });
});

$("stop").addEventListener("click", () => act($("stop"), async () => {
  const fileIds = await current().stopRecording();
  status(`Stopped: ${fileIds.length} file(s).`);
  await showFiles(fileIds);
}));

/** The codecs really being sent, once the connection reports them. */
async function showCodecs() {
  for (let i = 0; i < 20 && publication; i++) {
    const stats = await publication.stats();
    if (stats.video || stats.audio) {
      $("codecs").textContent = [stats.video, stats.audio].filter(Boolean).join(", ");
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** A list entry per file: its id, and a player when the user may fetch its play URL. */
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
      item.dataset.duration = String(file.duration);
      item.append(` ${file.file_name}, ${file.duration.toFixed(1)} s, ` +
                  `${file.video_codec || "no video"} + ${file.audio_codec || "no audio"}`);
      const original = file.play_set.find((play) => play.definition === 0);
      if (original) {
        const video = document.createElement("video");
        video.controls = true;
        video.preload = "metadata";
        video.src = original.url;
        video.setAttribute("aria-label", `recorded file ${file.file_name}`);
        const link = document.createElement("a");
        link.href = original.url;
        link.textContent = "download MP4";
        item.append(document.createElement("br"), video, document.createElement("br"), link);
      }
    } catch (error) {
      item.append(` (no play URL: ${error.message})`);
    }
  }
}
