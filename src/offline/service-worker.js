// Faultline's service worker: the built site offline, and cross-origin isolation on hosts that cannot
// send headers.
//
// After `trunk build`, xtask (xtask/src/offline.rs) copies this file into dist/ with the line that
// defines BUILD replaced by the build's own: every file of dist/ (paths relative to this script), a
// version that is a hash of their contents and of this script's own, and the site's Content-Security-
// Policy. So each deploy that changes a file, or this script, is a new service worker with a cache of
// its own, which the browser installs beside the old one; the page (register.js) then offers the new
// version, and this worker takes over when the learner accepts.
//
// Install caches every file of the build but the training worker's builds that this browser does not
// load (`otherBuilds`; should one be asked for later, `serve` stores it then). Every request for a file
// of the build, the page's navigation included, is then answered from that cache (so the app loads and
// trains with the network off), with the headers a static host may not send: COOP and COEP, which make
// the page cross-origin isolated (the threaded training build needs that), CORP, and the policy, which a
// <meta> in index.html cannot give the workers. Anything else goes to the network untouched.

// xtask replaces the next line with the build's version, files and policy.
const BUILD = { version: "unbuilt", files: [], policy: "" };

/** The folder this script is served from: the site's root, also the registration's scope. */
const ROOT = new URL("./", self.location.href);
/**
 * Cache names are shared by every scope of an origin: they name the scope, so that two copies of the
 * site on one host (say /faultline/ and /faultline-old/) never delete each other's.
 */
const CACHE_PREFIX = `faultline ${ROOT.pathname} `;
const CACHE = `${CACHE_PREFIX}${BUILD.version}`;
const CACHED = new Set(BUILD.files.map((file) => new URL(file, ROOT).href));
const INDEX = new URL("index.html", ROOT).href;

const HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
};

// The training worker's builds and which one a browser loads (src/worker/builds.js).
importScripts("./builds.js");

self.addEventListener("install", (event) => {
  // Revalidated with the server, so that a new version never caches an old file; a file the page has
  // just fetched comes from the browser's HTTP cache after a 304 instead of over the network again.
  // All or nothing.
  event.waitUntil(
    (async () => {
      const unused = await otherBuilds();
      const requests = [...CACHED]
        .filter((url) => !unused.has(url))
        .map((url) => new Request(url, { cache: "no-cache" }));
      await (await caches.open(CACHE)).addAll(requests);
    })(),
  );
});

/**
 * The files of the training worker's builds that this browser does not load, which install leaves out
 * (about 1 MB): the two builds for the other answer to "does the browser offer a WebGPU adapter?". Both
 * builds for this answer are cached, the threaded one (this worker's headers make the page cross-origin
 * isolated) and the single-thread one (`?threads=1`). Where service workers are not offered WebGPU this
 * cannot tell, and caches all four. Should the answer change later, the build it then needs comes from
 * the network the first time, and `serve` keeps it for the times after.
 */
async function otherBuilds() {
  if (!(self.navigator && self.navigator.gpu)) {
    return new Set();
  }
  const { webgpu, files } = self.faultlineBuilds;
  const otherAnswer = !(await webgpu());
  const other = [...files(true, otherAnswer), ...files(false, otherAnswer)];
  return new Set(other.map((file) => new URL(file, ROOT).href));
}

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const old = (await caches.keys()).filter((name) => name.startsWith(CACHE_PREFIX) && name !== CACHE);
      await Promise.all(old.map((name) => caches.delete(name)));
      // Control the pages that loaded before this worker: register.js reloads a page that is not yet
      // cross-origin isolated once this worker serves it.
      await self.clients.claim();
    })(),
  );
});

// The page asks a waiting worker to take over when the learner accepts the new version.
self.addEventListener("message", (event) => {
  if (event.data === "skip-waiting") {
    self.skipWaiting();
  }
});

self.addEventListener("fetch", (event) => {
  const key = cacheKey(event.request);
  if (key) {
    event.respondWith(serve(key, event.request, (stored) => event.waitUntil(stored)));
  }
});

/**
 * The cached file that answers `request`, or null for anything this worker leaves to the network. The
 * query is ignored (`?steps=20` on the page, `?threads=1` on the training worker), and the root is its
 * index.html.
 */
function cacheKey(request) {
  if (request.method !== "GET") {
    return null;
  }
  const url = new URL(request.url);
  url.search = "";
  url.hash = "";
  const href = url.href === ROOT.href ? INDEX : url.href;
  return CACHED.has(href) ? href : null;
}

/**
 * The cached file, with the site's headers. A file of the build that the cache does not hold (a build
 * install left out, or one the browser evicted) comes from the network and is stored as it streams to
 * the page, so it is there the next time the network is off; `keep` holds this worker alive until it is.
 */
async function serve(key, request, keep) {
  const cache = await caches.open(CACHE);
  let response = await cache.match(key);
  if (!response) {
    response = await fetch(request);
    if (response.status === 200) {
      keep(cache.put(key, response.clone()));
    }
  }
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(HEADERS)) {
    headers.set(name, value);
  }
  if (BUILD.policy) {
    headers.set("Content-Security-Policy", BUILD.policy);
  }
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
