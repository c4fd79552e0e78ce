// A file's player and its renditions: the <video> plays the MP4 renditions (the original
// first) and, once the file has HLS, the master playlist (adaptive) and each HLS variant.
// HLS plays through hls.js (vendor/hls.light.min.js, fetched by `make vendor` at install time)
// wherever the browser has Media Source Extensions, else through the browser's own HLS
// (Safari on older iPhones). Without either (hls.js not installed, and no HLS of its own, as in
// Chromium and Firefox) the master playlist's URL is shown for an HLS player.
import { bytes, DEFINITIONS, duration, fill, h } from "./ui.js";

const HLS_TYPE = "application/vnd.apple.mpegurl";
const HLS_JS = "/console/vendor/hls.light.min.js";
let hlsJsLoad = null;  // loaded once per page: a promise of the Hls class, or of null

/** hls.js, loaded as a classic script (it defines window.Hls): the Hls class, or null when
 * it is not installed here or cannot play in this browser (no Media Source Extensions). */
function loadHlsJs() {
  hlsJsLoad ??= new Promise((resolve) => {
    const script = document.createElement("script");
    script.src = HLS_JS;
    script.addEventListener("load", () => {
      const Hls = window.Hls;
      resolve(Hls && Hls.isSupported() ? Hls : null);
    });
    script.addEventListener("error", () => resolve(null));
    document.head.append(script);
  });
  return hlsJsLoad;
}

function isHls(play) {
  return play.container === "hls";
}

function label(play) {
  const size = play.vwidth && play.vheight ? ` ${play.vwidth}\u00d7${play.vheight}` : "";
  return `${DEFINITIONS[play.definition] || `Definition ${play.definition}`}${size}`;
}

const MEDIA_ERRORS = { 2: "a network error", 3: "a decoding error", 4: "a format it cannot play" };

/** The player, its rendition chooser and the renditions table; update(file) refreshes them
 * without interrupting playback (play URLs are re-signed on every read; the one playing is
 * kept). */
export function createPlayer(file) {
  const video = h("video", { id: "player", controls: true, preload: "metadata",
                             playsinline: true, "aria-label": `Player: ${file.file_name}` });
  const chooser = h("select", { id: "rendition" });
  const problem = h("p", { id: "player-error", class: "error-text", role: "alert" });
  const hlsNote = h("p", { id: "hls-master", class: "note" });
  const table = h("div", { id: "renditions" });
  const nativeHls = Boolean(video.canPlayType(HLS_TYPE));
  let Hls = null;        // the hls.js class, once loaded (null: not installed or unusable)
  let hlsLoad = "";      // "", "loading", "done"
  let hls = null;        // the hls.js instance playing, if one is
  let sources = new Map();  // chooser value -> { url, hls, label }
  let playing = "";
  let last = file;

  /** How HLS plays here: "hls.js", "native" or "" (not, or not known yet). */
  function hlsEngine() {
    if (hlsLoad !== "done") return "";
    return Hls ? "hls.js" : nativeHls ? "native" : "";
  }

  function stopHls() {
    if (hls) {
      hls.destroy();
      hls = null;
    }
  }

  function hlsFailed(data) {
    const code = data.response && data.response.code ? `, HTTP ${data.response.code}` : "";
    stopHls();
    fill(problem, `HLS playback failed (hls.js: ${data.type}, ${data.details}${code}). `
      + "Choose an MP4 rendition, or open the master playlist in an HLS player.");
  }

  function play(value, { keepTime = true } = {}) {
    const source = sources.get(value);
    if (!source) return;
    const at = keepTime ? video.currentTime : 0;
    const wasPlaying = !video.paused;
    stopHls();
    fill(problem);
    playing = value;
    chooser.value = value;
    if (source.hls && Hls) {
      const player = new Hls({ startPosition: at > 0 ? at : -1 });
      hls = player;
      player.on(Hls.Events.ERROR, (_event, data) => {
        if (data.fatal && hls === player) hlsFailed(data);
      });
      if (wasPlaying) {
        player.once(Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
      }
      player.loadSource(source.url);
      player.attachMedia(video);
      return;
    }
    video.src = source.url;
    if (at) {
      video.addEventListener("loadedmetadata", () => { video.currentTime = at; }, { once: true });
    }
    if (wasPlaying) video.play().catch(() => {});
  }

  chooser.addEventListener("change", () => play(chooser.value));
  video.addEventListener("error", () => {
    // hls.js reports its own failures (above); these are the browser's, playing a URL itself
    if (hls || !video.error || !MEDIA_ERRORS[video.error.code]) return;
    fill(problem, `The video stopped: ${MEDIA_ERRORS[video.error.code]}`
      + (video.error.message ? ` (${video.error.message})` : "") + ".");
  });

  function loadHls() {
    hlsLoad = "loading";
    loadHlsJs().then((found) => {
      Hls = found;
      hlsLoad = "done";
      if (video.isConnected) update(last);  // not when the page was left meanwhile
    });
  }

  function update(current) {
    last = current;
    if (current.image_url && !video.poster) video.poster = current.image_url;
    if (current.hls_master_url && !hlsLoad) loadHls();
    const engine = hlsEngine();
    const plays = current.play_set || [];
    const next = new Map();
    for (const p of plays) {
      if (!isHls(p)) next.set(String(p.definition), { url: p.url, hls: false, label: label(p) });
    }
    if (engine && current.hls_master_url) {
      next.set("hls", { url: current.hls_master_url, hls: true, label: "HLS (adaptive)" });
      for (const p of plays) {
        if (isHls(p)) next.set(String(p.definition), { url: p.url, hls: true, label: label(p) });
      }
    }
    const changed = [...next.keys()].join() !== [...sources.keys()].join();
    sources = next;
    if (changed) {
      fill(chooser, [...next].map(([value, s]) => h("option", { value }, s.label)));
      chooser.disabled = sources.size === 0;
    }
    if (!sources.has(playing)) {
      if (sources.size) play(sources.keys().next().value, { keepTime: false });
      else video.removeAttribute("src");
    } else chooser.value = playing;

    const how = {
      "hls.js": ` (plays here through hls.js ${Hls && Hls.version}: choose \u201cHLS\u201d `
        + "above)",
      native: " (plays here with this browser's own HLS: choose \u201cHLS\u201d above)",
    }[engine] ?? (hlsLoad === "done" ? " (HLS does not play in this console here: hls.js is "
      + "not installed on this server, or this browser lacks Media Source Extensions; open "
      + "it in an HLS player such as Safari or VLC; the MP4 renditions play here)" : "");
    fill(hlsNote, current.hls_master_url
      ? ["HLS master playlist: ", h("a", { href: current.hls_master_url, id: "hls-link" },
          "master.m3u8"), how]
      : "No HLS renditions yet (transcode to 210, 220 or 230 to make them).");

    const rows = plays.map((p) => h("tr", { dataset: { definition: p.definition } },
      h("th", { scope: "row" }, `${p.definition} \u00b7 ${DEFINITIONS[p.definition] || ""}`),
      h("td", {}, isHls(p) ? "HLS" : "MP4"),
      h("td", {}, p.vwidth ? `${p.vwidth}\u00d7${p.vheight}` : "audio only"),
      h("td", { class: "num" }, p.vbitrate ? `${Math.round(p.vbitrate / 1000)} kbit/s` : ""),
      h("td", { class: "num" }, duration(p.duration ?? current.duration)),
      h("td", { class: "num" }, bytes(p.size ?? current.size)),
      h("td", {}, sources.has(String(p.definition)) ? h("button", { type: "button", onclick: () =>
        play(String(p.definition)), "aria-label": `Play ${label(p)}` }, "Play") : null, " ",
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
    stopHls();
    video.pause();
    video.removeAttribute("src");
    video.load();
    playing = "";
  }

  update(file);
  const element = h("section", { class: "player", "aria-labelledby": "player-title" },
    h("h2", { id: "player-title", class: "visually-hidden" }, "Player"),
    video, problem,
    h("div", { class: "field inline" }, h("label", { for: "rendition" }, "Rendition"), chooser),
    hlsNote, table);
  return { element, update, release, video };
}
