// The web console: signing in and out, and a hash router over its views
// (#/live, #/library, #/files/ID, #/categories, #/usage, #/webhooks). No framework, no build step.
import { api, onUnauthorized, session, signIn, signOut } from "./api.js";
import * as categories from "./categories.js";
import * as detail from "./detail.js";
import * as library from "./library.js";
import * as live from "./live.js";
import { fill } from "./ui.js";
import * as usage from "./usage.js";
import * as webhooks from "./webhooks.js";

const $ = (id) => document.getElementById(id);
const VIEWS = { live, library, files: detail, categories, usage, webhooks };
const NAV = { files: "library" };  // the file detail belongs to the library

let signedIn = false;
let rendering = 0;           // the newest render; older ones are dropped when they finish
let leaving = [];            // what to stop when the view changes (timers)
let currentPath = "";
let pendingStatus = "";

function announce(text) {
  $("status").textContent = text || "";
}

function showError(error) {
  fill($("error-code"), String(error?.code ?? error?.name ?? "Error"));
  fill($("error-message"), error?.message || String(error));
  fill($("error-hint"), error?.hint || "none");
  $("error").dataset.code = String(error?.code ?? "");
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
}

/** What a view gets: the API, messages, timers that stop when it is left, navigation. */
function context(stops) {
  return {
    api, announce, showError, clearError,
    every(ms, action) {
      const timer = setInterval(action, ms);
      stops.push(() => clearInterval(timer));
    },
    onLeave(action) {
      stops.push(action);
    },
    go(hash, status = "") {
      pendingStatus = status;
      if (location.hash === hash) route(); else location.hash = hash;
    },
    refresh() {
      route();
    },
  };
}

function parseHash() {
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const view = VIEWS[parts[0]] ? parts[0] : "library";
  return { view, id: parts[1] || null, params: new URLSearchParams(query) };
}

async function route() {
  if (!signedIn) return;
  const ticket = ++rendering;
  for (const stop of leaving.splice(0)) stop();
  const { view, id, params } = parseHash();
  const path = `${view}/${id || ""}`;
  const samePath = path === currentPath;
  const focused = samePath ? document.activeElement?.id : null;
  currentPath = path;
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.view === (NAV[view] || view)) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  clearError();
  announce(pendingStatus);
  pendingStatus = "";
  const stops = [];
  const target = document.createElement("div");
  try {
    await VIEWS[view].render(target, { id, params }, context(stops));
  } catch (error) {
    showError(error);
  }
  if (ticket !== rendering || !signedIn) {  // the reader went elsewhere meanwhile
    for (const stop of stops) stop();
    return;
  }
  leaving = stops;
  $("view").replaceChildren(...target.childNodes);
  const heading = $("view").querySelector("h1");
  document.title = `${heading ? heading.textContent : "livetape"} \u00b7 livetape console`;
  const restore = focused && document.getElementById(focused);
  if (restore) restore.focus();
  else if (heading && (!samePath || document.activeElement === document.body)) {
    heading.tabIndex = -1;
    heading.focus();
  }
}

function showSignIn() {
  signedIn = false;
  for (const stop of leaving.splice(0)) stop();
  currentPath = "";
  $("nav").hidden = $("account").hidden = $("view").hidden = true;
  $("view").replaceChildren();
  $("loading").hidden = true;
  $("sign-in-view").hidden = false;
  document.title = "Sign in \u00b7 livetape console";
  ($("app-id").value ? $("secret-key") : $("app-id")).focus();
}

/** Show the console for the session's app; the sign-in form when there is no session. */
async function start() {
  let app;
  let state;
  try {
    state = await session();
    if (state.signed_in) app = await api("GET", "/v1/app");
  } catch (error) {
    if (error.code !== 1001) showError(error);
  }
  if (!app) {
    showSignIn();
    return;
  }
  signedIn = true;
  fill($("app-name"), app.name);
  fill($("app-id-shown"), app.app_id);
  fill($("session-until"), `signed in until ${new Date(state.expire_time).toLocaleString()}`);
  $("app-id").value = app.app_id;
  $("sign-in-view").hidden = $("loading").hidden = true;
  $("nav").hidden = $("account").hidden = $("view").hidden = false;
  await route();
}

onUnauthorized((error) => {
  if (!signedIn) return;
  showSignIn();
  showError(error);
  announce("Your session ended; sign in again.");
});

$("sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = event.submitter || $("sign-in").querySelector("button");
  const secret = $("secret-key");
  button.disabled = true;
  clearError();
  try {
    await signIn($("app-id").value.trim(), secret.value);
    secret.value = "";  // the cookie stands for it from now on
    announce("Signed in.");
    await start();
  } catch (error) {
    showError(error);
    secret.focus();
  } finally {
    button.disabled = false;
  }
});

$("sign-out").addEventListener("click", async () => {
  try {
    await signOut();
  } catch (error) {
    showError(error);
  }
  showSignIn();
  announce("Signed out.");
});

window.addEventListener("hashchange", route);
start();
