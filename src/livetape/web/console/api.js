// The console's one way to the server: the JSON API with the session cookie.
//
// The cookie (HttpOnly, set by POST /console/session) is sent by the browser; this module
// adds the X-Livetape-Console header the server requires of cookie-authenticated calls.
// The secret key is never held here.

export const CONSOLE_HEADER = "X-Livetape-Console";

/** A livetape error body ({code, message, hint}) with the HTTP status. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = body?.code ?? -1;
    this.hint = body?.hint || "";
    this.body = body;
  }
}

let unauthorized = () => {};

/** Called with the error whenever the server says the session is not valid (code 1001). */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

function urlFor(path, params) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") {
      url.searchParams.set(name, String(value));
    }
  }
  return url;
}

async function send(method, url, init, notify = true) {
  let response;
  try {
    response = await fetch(url, { method, credentials: "same-origin", ...init });
  } catch (error) {
    throw new ApiError(0, { code: -1, message: `the server was not reached (${error.message})`,
                            hint: "check that livetape is running and reachable" });
  }
  let body = null;
  if (response.status !== 204) {
    try {
      body = await response.json();
    } catch {
      body = null;
    }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, body);
    if (notify && error.code === 1001) unauthorized(error);
    throw error;
  }
  return body;
}

/** Call the API: api("GET", "/v1/vod/files", {params}) or api("PATCH", path, {json}). */
export function api(method, path, { params, json } = {}) {
  const headers = { [CONSOLE_HEADER]: "1", Accept: "application/json" };
  const init = { headers };
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  return send(method, urlFor(path, params), init);
}

/** Sign in: the credentials go to the server once; it answers with the session cookie. */
export function signIn(appId, secretKey) {
  return send("POST", urlFor("/console/session"), {
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ app_id: appId, secret_key: secretKey }),
  }, false);
}

/** {signed_in, app_id, expire_time} of this browser's session (never an error for none). */
export function session() {
  return send("GET", urlFor("/console/session"), { headers: { Accept: "application/json" } },
              false);
}

export function signOut() {
  return send("DELETE", urlFor("/console/session"), { headers: { [CONSOLE_HEADER]: "1" } },
              false);
}
