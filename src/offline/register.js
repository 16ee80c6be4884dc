// Registers Faultline's service worker (service-worker.js, which xtask writes into the built site) and
// answers what it changes for the page:
//
// - The first time the worker controls the page, a page that is not cross-origin isolated (its host
//   sent no COOP/COEP headers) is reloaded once, so that it is served by the worker, with them; a flag in
//   sessionStorage makes it once per tab, so a browser that ignores the worker's headers never loops. A
//   page where a run has started is left as it is: its next load is isolated.
// - When a new version has been installed beside the one that serves the page, the notice above the
//   app offers it; its Reload button asks the new worker to take over, then reloads.
//
// Service workers exist only in secure contexts (https, localhost): elsewhere this does nothing.
(() => {
  const container = navigator.serviceWorker;
  if (!container) {
    return;
  }
  const ISOLATION_RELOAD = "faultline-isolation-reload";
  const controlledAtLoad = Boolean(container.controller);
  let acceptedUpdate = false;

  /** Whether every run, reading or search on the page is still idle (nothing a reload would lose). */
  const nothingStarted = () =>
    [...document.querySelectorAll("[data-state]")].every((element) => element.dataset.state === "idle");

  const reloadForIsolation = () => {
    if (self.crossOriginIsolated || sessionStorage.getItem(ISOLATION_RELOAD) || !nothingStarted()) {
      return;
    }
    sessionStorage.setItem(ISOLATION_RELOAD, "1");
    location.reload();
  };

  /** Shows the notice; its button calls `accept`. */
  const offer = (message, accept) => {
    const notice = document.getElementById("update-notice");
    if (!notice) {
      return;
    }
    const text = document.createElement("span");
    text.textContent = message;
    const button = document.createElement("button");
    button.type = "button";
    button.id = "update-reload";
    button.className = "primary";
    button.textContent = "Reload";
    button.addEventListener("click", accept, { once: true });
    notice.replaceChildren(text, " ", button);
    notice.hidden = false;
  };

  const offerWaiting = (worker) =>
    offer("A new version of Faultline is ready.", () => {
      acceptedUpdate = true;
      worker.postMessage("skip-waiting");
    });

  /** Offers `worker` once it is installed, if it is a new version (a page it will not serve at once). */
  const watch = (worker) =>
    worker?.addEventListener("statechange", () => {
      if (worker.state === "installed" && container.controller) {
        offerWaiting(worker);
      }
    });

  container.addEventListener("controllerchange", () => {
    if (acceptedUpdate) {
      location.reload();
    } else if (!controlledAtLoad) {
      reloadForIsolation();
    } else {
      // Another tab accepted the new version: this page is still the old one.
      offer("A new version of Faultline is ready.", () => location.reload());
    }
  });

  const register = () =>
    container.register("./service-worker.js", { scope: "./" }).then(
      (registration) => {
        if (registration.waiting && container.controller) {
          offerWaiting(registration.waiting);
        }
        watch(registration.installing);
        registration.addEventListener("updatefound", () => watch(registration.installing));
      },
      (error) => console.info("Faultline works online only here: its service worker did not register", error),
    );
  // After the page has loaded and its training worker is ready (or a minute after the load, if it never
  // is), so that caching the site never takes the network from the files the first step needs.
  const workerReady = () => document.documentElement.dataset.worker === "ready";
  addEventListener(
    "load",
    () => {
      if (workerReady()) {
        register();
        return;
      }
      const observer = new MutationObserver(() => {
        if (workerReady()) {
          observer.disconnect();
          clearTimeout(fallback);
          register();
        }
      });
      const fallback = setTimeout(() => {
        observer.disconnect();
        register();
      }, 60_000);
      observer.observe(document.documentElement, { attributes: true, attributeFilter: ["data-worker"] });
    },
    { once: true },
  );
})();
