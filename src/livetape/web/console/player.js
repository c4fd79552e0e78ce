// A file's player and its renditions: the <video> plays the MP4 renditions (the original
// first). HLS plays only where the browser has it built in (Safari); elsewhere the master
// playlist's URL is shown for an HLS player: the console ships no HLS library.
import { bytes, DEFINITIONS, duration, fill, h } from "./ui.js";

const HLS_TYPE = "application/vnd.apple.mpegurl";

function isHls(play) {
  return play.container === "hls";
}

function label(play) {
  const size = play.vwidth && play.vheight ? ` ${play.vwidth}\u00d7${play.vheight}` : "";
  return `${DEFINITIONS[play.definition] || `Definition ${play.definition}`}${size}`;
}

/** The player, its rendition chooser and the renditions table; update(file) refreshes them
 * without interrupting playback (play URLs are re-signed on every read; the one playing is
 * kept). */
export function createPlayer(file) {
  const video = h("video", { id: "player", controls: true, preload: "metadata",
                             playsinline: true, "aria-label": `Player: ${file.file_name}` });
  const chooser = h("select", { id: "rendition" });
  const hlsNote = h("p", { id: "hls-master", class: "note" });
  const table = h("div", { id: "renditions" });
  const nativeHls = Boolean(video.canPlayType(HLS_TYPE));
  let sources = new Map();  // chooser value -> URL
  let playing = "";

  function play(value, { keepTime = true } = {}) {
    const url = sources.get(value);
    if (!url) return;
    const at = keepTime ? video.currentTime : 0;
    const wasPlaying = !video.paused;
    playing = value;
    chooser.value = value;
    video.src = url;
    if (at) {
      video.addEventListener("loadedmetadata", () => { video.currentTime = at; }, { once: true });
    }
    if (wasPlaying) video.play().catch(() => {});
  }

  chooser.addEventListener("change", () => play(chooser.value));

  function update(current) {
    if (current.image_url && !video.poster) video.poster = current.image_url;
    const playable = (current.play_set || []).filter((p) => !isHls(p));
    const next = new Map(playable.map((p) => [String(p.definition), p.url]));
    if (nativeHls && current.hls_master_url) next.set("hls", current.hls_master_url);
    const changed = [...next.keys()].join() !== [...sources.keys()].join();
    sources = next;
    if (changed) {
      fill(chooser, playable.map((p) => h("option", { value: String(p.definition) }, label(p))),
           next.has("hls") ? h("option", { value: "hls" }, "HLS (adaptive)") : null);
      chooser.disabled = sources.size === 0;
    }
    if (!sources.has(playing)) {
      if (sources.size) play(sources.keys().next().value, { keepTime: false });
      else video.removeAttribute("src");
    } else chooser.value = playing;

    fill(hlsNote, current.hls_master_url
      ? ["HLS master playlist: ", h("a", { href: current.hls_master_url, id: "hls-link" },
          "master.m3u8"), nativeHls ? "" : " (this browser has no built-in HLS: open it in "
          + "an HLS player such as Safari, VLC or hls.js; the MP4 renditions play here)"]
      : "No HLS renditions yet (transcode to 210, 220 or 230 to make them).");

    const rows = (current.play_set || []).map((p) => h("tr", { dataset: {
      definition: p.definition } },
      h("th", { scope: "row" }, `${p.definition} \u00b7 ${DEFINITIONS[p.definition] || ""}`),
      h("td", {}, isHls(p) ? "HLS" : "MP4"),
      h("td", {}, p.vwidth ? `${p.vwidth}\u00d7${p.vheight}` : "audio only"),
      h("td", { class: "num" }, p.vbitrate ? `${Math.round(p.vbitrate / 1000)} kbit/s` : ""),
      h("td", { class: "num" }, duration(p.duration ?? current.duration)),
      h("td", { class: "num" }, bytes(p.size ?? current.size)),
      h("td", {}, isHls(p) ? null : h("button", { type: "button", onclick: () =>
        play(String(p.definition)), "aria-label": `Play ${label(p)}` }, "Play"), " ",
        h("a", { href: p.url, "aria-label": `Open ${label(p)} in a new tab`, target: "_blank",
                 rel: "noopener" }, "Open"))));
    fill(table, rows.length ? h("table", { class: "grid", id: "renditions-table" },
      h("caption", {}, "Renditions"),
      h("thead", {}, h("tr", {}, ["Definition", "Format", "Picture", "Video bitrate",
        "Duration", "Size", "Links"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows)) : h("p", {}, "Nothing to play: the file is not stored yet."));
  }

  /** Stop playing and let go of the file (leaving the page, or deleting the file). */
  function release() {
    video.pause();
    video.removeAttribute("src");
    video.load();
    playing = "";
  }

  update(file);
  const element = h("section", { class: "player", "aria-labelledby": "player-title" },
    h("h2", { id: "player-title", class: "visually-hidden" }, "Player"),
    video,
    h("div", { class: "field inline" }, h("label", { for: "rendition" }, "Rendition"), chooser),
    hlsNote, table);
  return { element, update, release, video };
}
