/**
 * livetape browser SDK: publish a camera or screen into a livetape room over WHIP and
 * start / stop recording it. A dependency-free ES module, served by livetape itself:
 *
 *   import { Livetape, LivetapeError } from "https://livetape.example/sdk/livetape.js";
 *   const lt = new Livetape({ url: "https://livetape.example", token, room: "class-1" });
 *   await lt.publish({ camera: true });
 *   await lt.publish({ screen: true });          // a second WHIP session, at the same time
 *   await lt.startRecording({ fileName: "lesson-1", srcType: "screen" });
 *   const fileIds = await lt.stopRecording({ srcType: "screen" });
 *   await lt.leave();                             // ends both
 *
 * Errors from the server are thrown as {@link LivetapeError} with the error table's
 * `code`, `message` and `hint`.
 *
 * @module livetape
 */

/** How long to wait for ICE gathering before sending the offer anyway (ms). */
const ICE_GATHERING_TIMEOUT_MS = 5000;

/**
 * An error answered by the livetape server (or a failure to reach it).
 *
 * `code` is the error table's code (30000412, 1001, ...) or -1 when the server could not be
 * reached or answered something that is not a livetape error; `status` is the HTTP status
 * (0 when there was no answer); `body` is the whole JSON answer (for example the `file_ids`
 * and `end_reason` that come with 30000413).
 */
export class LivetapeError extends Error {
  /**
   * @param {{code: number, message: string, hint?: string}} body the server's error body
   * @param {number} status HTTP status, 0 without an answer
   */
  constructor(body, status) {
    super(body.message);
    this.name = "LivetapeError";
    /** @type {number} */
    this.code = Number(body.code);
    /** @type {string} */
    this.hint = body.hint || "";
    /** @type {number} */
    this.status = status;
    /** @type {object} */
    this.body = body;
  }
}

/**
 * One published stream (a WHIP session). Get it from {@link Livetape#publish}.
 *
 * When every track of its stream has ended by itself (the user clicked the browser's "Stop
 * sharing", closed the shared tab, unplugged the camera) the publication leaves the room on
 * its own, so the server ends its recording at once (`publisher_left`) rather than after the
 * idle timeout, and fires an `"ended"` event (a CustomEvent; `detail.error` is set if the
 * DELETE failed).
 */
export class Publication extends EventTarget {
  /** @internal */
  constructor(client, srcType, pc, stream, location, ownsTracks) {
    super();
    /** @type {"camera"|"screen"} */
    this.srcType = srcType;
    /** @type {RTCPeerConnection} */
    this.pc = pc;
    /** @type {MediaStream} the stream being sent */
    this.stream = stream;
    /** @type {string} the WHIP session URL (DELETE it to leave) */
    this.location = location;
    this._client = client;
    this._ownsTracks = ownsTracks;
    this._left = false;
    const onEnded = () => {
      if (this._left || !stream.getTracks().every((track) => track.readyState === "ended")) {
        return;
      }
      this.leave().then(() => null, (error) => error)
        .then((error) => this.dispatchEvent(new CustomEvent("ended", { detail: { error } })));
    };
    stream.getTracks().forEach((track) => track.addEventListener("ended", onEnded));
  }

  /**
   * What is being sent, from the connection's statistics: the negotiated codecs' MIME types,
   * the counters of the outbound RTP streams and the video's current encoded size and frame
   * rate (0 until the encoder reports them; it adapts them to the bandwidth).
   * @returns {Promise<{video: string|null, audio: string|null, framesSent: number,
   *   bytesSent: number, width: number, height: number, framesPerSecond: number}>}
   */
  async stats() {
    const report = await this.pc.getStats();
    const out = { video: null, audio: null, framesSent: 0, bytesSent: 0, width: 0, height: 0,
                  framesPerSecond: 0 };
    report.forEach((entry) => {
      if (entry.type !== "outbound-rtp") return;
      const codec = entry.codecId ? report.get(entry.codecId) : null;
      if (codec) out[entry.kind] = codec.mimeType;
      out.bytesSent += entry.bytesSent || 0;
      if (entry.kind !== "video") return;
      out.framesSent += entry.framesSent || 0;
      out.width = entry.frameWidth || out.width;
      out.height = entry.frameHeight || out.height;
      out.framesPerSecond = entry.framesPerSecond || out.framesPerSecond;
    });
    return out;
  }

  /**
   * Stop publishing: DELETE the WHIP session (the server ends this stream's recording with
   * `publisher_left`), close the connection and stop the tracks the SDK captured. Does
   * nothing the second time.
   * @returns {Promise<void>}
   */
  async leave() {
    if (this._left) return;
    this._left = true;
    this._client._forget(this);
    try {
      await this._client._fetch("DELETE", this.location);
    } finally {
      this.pc.close();
      if (this._ownsTracks) this.stream.getTracks().forEach((track) => track.stop());
    }
  }
}

/**
 * A participant of one livetape room, authenticated with a user token.
 */
export class Livetape {
  /**
   * @param {object} options
   * @param {string} [options.url] the livetape server, e.g. "https://livetape.example"
   *   (default: the page's origin)
   * @param {string} options.token a user token (a JWT the app server minted; its `sub` is the
   *   user id; recording needs the "record" privilege)
   * @param {string} options.room the room id (the app server creates the room)
   * @param {RTCIceServer[]|"server"} [options.iceServers] STUN/TURN servers (default: none;
   *   livetape answers with its own host candidates). "server": ask livetape before each
   *   publish (GET /v1/ice-servers: its STUN servers, and TURN with credentials for this user)
   * @param {"all"|"relay"} [options.iceTransportPolicy] "relay": media only through TURN
   *   (for networks that block direct UDP; default "all")
   */
  constructor({ url, token, room, iceServers = [], iceTransportPolicy = "all" } = {}) {
    if (!token) throw new TypeError("Livetape: token is required");
    if (!room) throw new TypeError("Livetape: room is required");
    const base = url || globalThis.location?.origin;
    if (!base) throw new TypeError("Livetape: url is required outside a page");
    /** @type {string} */
    this.url = String(base).replace(/\/+$/, "");
    /** @type {string} */
    this.room = room;
    this._token = token;
    this._iceServers = iceServers;
    this._iceTransportPolicy = iceTransportPolicy;
    /** @type {Map<string, Publication>} the live publications by source type */
    this.publications = new Map();
  }

  /**
   * Publish a stream into the room over WHIP, preferring H.264 (recorded without
   * re-encoding) and Opus. Exactly one source: `camera` (true or getUserMedia constraints),
   * `screen` (true or getDisplayMedia options) or `stream` (your own MediaStream).
   * Each call is one WHIP session: publish the camera and the screen with two calls and both
   * go out at once (one of each source type per user; a second of the same type answers
   * 1002). `screen: true` asks for `{video: true, audio: true}`: the browser's picker
   * offers screens, windows and tabs (tab audio where the browser shares it; a screen
   * without audio is published video-only). Browsers let a page call getDisplayMedia only
   * from a user gesture (a click handler).
   *
   * @param {object} options
   * @param {boolean|MediaStreamConstraints} [options.camera]
   * @param {boolean|DisplayMediaStreamOptions} [options.screen]
   * @param {MediaStream} [options.stream]
   * @param {"camera"|"screen"} [options.srcType] the stream's source type (default "screen"
   *   for `screen`, else "camera"); a user may publish one of each
   * @returns {Promise<Publication>}
   * @throws {LivetapeError} when the server refuses (for example 1002: already publishing);
   *   a DOMException from getUserMedia / getDisplayMedia (NotAllowedError: the user or the
   *   page's permissions refused)
   */
  async publish({ camera, screen, stream, srcType } = {}) {
    if ([camera, screen, stream].filter(Boolean).length !== 1) {
      throw new TypeError("publish: give exactly one of camera, screen, stream");
    }
    const type = srcType || (screen ? "screen" : "camera");
    const owns = !stream;
    let media = stream;
    if (camera) {
      const constraints = camera === true ? { video: true, audio: true } : camera;
      media = await navigator.mediaDevices.getUserMedia(constraints);
    } else if (screen) {
      const options = screen === true ? { video: true, audio: true } : screen;
      media = await navigator.mediaDevices.getDisplayMedia(options);
    }
    const iceServers = this._iceServers === "server"
      ? (await this._json("GET", "/v1/ice-servers")).ice_servers.map(
          ({ urls, username, credential }) => (username == null ? { urls }
            : { urls, username, credential }))
      : this._iceServers;
    const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: this._iceTransportPolicy });
    try {
      for (const track of media.getTracks()) {
        const transceiver = pc.addTransceiver(track, { direction: "sendonly", streams: [media] });
        if (track.kind === "video") preferH264(transceiver);
      }
      await pc.setLocalDescription(await pc.createOffer());
      await iceGatheringComplete(pc);  // every candidate in the offer: one request, no PATCH
      const path = `/v1/rooms/${encodeURIComponent(this.room)}/whip?src_type=${type}`;
      const response = await this._fetch("POST", path, pc.localDescription.sdp,
                                          "application/sdp");
      const location = response.headers.get("Location");
      if (!location) {
        throw new LivetapeError({ code: -1, message: "the WHIP answer has no Location",
                                  hint: "expose the Location header in your proxy's CORS" }, 201);
      }
      await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
      const publication = new Publication(this, type, pc, media,
                                          new URL(location, this.url + "/").href, owns);
      this.publications.set(type, publication);
      return publication;
    } catch (error) {
      pc.close();
      if (owns) media.getTracks().forEach((track) => track.stop());
      throw error;
    }
  }

  /**
   * Start recording the own camera or screen stream (`POST /v1/record`, operation "start").
   * The stream must be published first. Only the fields given are sent; the server applies
   * its defaults.
   *
   * @param {object} options
   * @param {string} options.fileName the file name play info searches (at most 40 characters,
   *   no "/")
   * @param {"camera"|"screen"} [options.srcType] default "camera"
   * @param {"video"|"audio"} [options.recordType] default "video" (audio and video)
   * @param {number} [options.classId] VOD category (default 0)
   * @param {string[]} [options.tags]
   * @param {boolean} [options.transcode] make the renditions when each file lands
   * @param {boolean} [options.screenshot] take snapshots at intervals
   * @param {boolean} [options.watermark] make the watermarked original
   * @returns {Promise<string>} the recording id
   * @throws {LivetapeError} e.g. 30000411 (not publishing), 30000415 (already recording)
   */
  async startRecording({ fileName, srcType = "camera", recordType, classId, tags, transcode,
                         screenshot, watermark } = {}) {
    const body = { operation: "start", room_id: this.room, src_type: srcType,
                   file_name: fileName };
    const optional = { record_type: recordType, class_id: classId, tags, transcode,
                       screenshot, watermark };
    for (const [name, value] of Object.entries(optional)) {
      if (value !== undefined) body[name] = value;
    }
    return (await this._json("POST", "/v1/record", body)).recording_id;
  }

  /**
   * Stop recording the own camera or screen stream (`POST /v1/record`, operation "stop").
   *
   * @param {object} [options]
   * @param {"camera"|"screen"} [options.srcType] default "camera"
   * @returns {Promise<string[]>} the ids of every file the recording produced, in order
   * @throws {LivetapeError} 30000412 when nothing is being recorded; 30000413 when the
   *   recording already ended by itself (its `body` has `file_ids` and `end_reason`)
   */
  async stopRecording({ srcType = "camera" } = {}) {
    const body = { operation: "stop", room_id: this.room, src_type: srcType };
    return (await this._json("POST", "/v1/record", body)).file_ids;
  }

  /**
   * A recording's state, end reason and file ids (`GET /v1/recordings/{id}`).
   * @param {string} recordingId
   * @returns {Promise<object>}
   */
  async recording(recordingId) {
    return this._json("GET", `/v1/recordings/${encodeURIComponent(recordingId)}`);
  }

  /**
   * One of the user's own recorded files with its play URLs (`GET
   * /v1/vod/files/{id}/play`): `file_name`, `duration`, `status`, `play_set` ([{url,
   * definition, ...}], the original first), `image_url`, `hls_master_url`.
   * @param {string} fileId
   * @returns {Promise<object>}
   * @throws {LivetapeError} 10008 when there is no such file of this user
   */
  async file(fileId) {
    return this._json("GET", `/v1/vod/files/${encodeURIComponent(fileId)}/play`);
  }

  /**
   * Leave the room: end every publication of this client, camera and screen (see
   * {@link Publication#leave}).
   * @returns {Promise<void>}
   */
  async leave() {
    const results = await Promise.allSettled(
      [...this.publications.values()].map((publication) => publication.leave()));
    const failed = results.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** @internal */
  _forget(publication) {
    if (this.publications.get(publication.srcType) === publication) {
      this.publications.delete(publication.srcType);
    }
  }

  /** @internal */
  async _json(method, path, body) {
    const response = await this._fetch(method, path,
                                       body === undefined ? undefined : JSON.stringify(body),
                                       "application/json");
    return response.json();
  }

  /** @internal A request with the token; a non-2xx answer throws a LivetapeError. */
  async _fetch(method, path, body, contentType) {
    const headers = { Authorization: `Bearer ${this._token}` };
    if (body !== undefined) headers["Content-Type"] = contentType;
    let response;
    try {
      response = await fetch(new URL(path, this.url + "/"), { method, headers, body });
    } catch (error) {
      throw new LivetapeError({
        code: -1, message: `could not reach ${this.url}: ${error.message}`,
        hint: "check the server URL, that it is running, and that it allows this origin (CORS)",
      }, 0);
    }
    if (response.ok) return response;
    let answer;
    try {
      answer = await response.json();
    } catch {
      answer = null;
    }
    if (!answer || typeof answer.code !== "number") {
      answer = { code: -1, message: `HTTP ${response.status} ${response.statusText}`,
                 hint: "the answer is not a livetape error: is the URL a livetape server?" };
    }
    throw new LivetapeError(answer, response.status);
  }
}

/**
 * Put H.264 (packetization-mode 1, constrained baseline first) ahead of the other video
 * codecs: livetape records H.264 as received, while VP8 (Chromium's first choice) has to be
 * decoded and re-encoded. The others stay as a fallback.
 */
function preferH264(transceiver) {
  if (typeof transceiver.setCodecPreferences !== "function" ||
      typeof RTCRtpSender.getCapabilities !== "function") return;
  const codecs = RTCRtpSender.getCapabilities("video")?.codecs || [];
  const rank = (codec) => {
    if (codec.mimeType.toLowerCase() !== "video/h264") return 9;
    const fmtp = codec.sdpFmtpLine || "";
    if (!/packetization-mode=1/.test(fmtp)) return 8;
    if (/profile-level-id=42e0/i.test(fmtp)) return 0;
    if (/profile-level-id=4200/i.test(fmtp)) return 1;
    return 2;
  };
  const ordered = codecs.map((codec, index) => ({ codec, index }))
    .sort((a, b) => rank(a.codec) - rank(b.codec) || a.index - b.index)
    .map(({ codec }) => codec);
  if (ordered.length) transceiver.setCodecPreferences(ordered);
}

/** Resolves once ICE gathering is complete, or after a timeout (then sends what it has). */
function iceGatheringComplete(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    }, ICE_GATHERING_TIMEOUT_MS);
    pc.addEventListener("icegatheringstatechange", done);
  });
}
