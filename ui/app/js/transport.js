// @ts-check
// The one place the two hosts differ. The desktop app (Tauri) gives us invoke() and an
// event channel; `voxdeck serve` gives us a WebSocket carrying the same JSON. Everything
// above this module sees only send(Command) -> Reply and a stream of Outgoing.

/** @typedef {import("../../bindings/Command").Command} Command */
/** @typedef {import("../../bindings/Outgoing").Outgoing} Outgoing */
/** @typedef {import("../../bindings/Reply").Reply} Reply */
/** @typedef {import("../../bindings/WsReply").WsReply} WsReply */
/** @typedef {import("../../bindings/WsRequest").WsRequest} WsRequest */

/**
 * What Tauri's `withGlobalTauri = true` puts on window (no @tauri-apps/api package).
 * @typedef {object} TauriGlobal
 * @property {{ invoke(cmd: string, args?: Record<string, unknown>): Promise<unknown> }} core
 * @property {{ listen(event: string, handler: (e: { payload: unknown }) => void): Promise<() => void> }} event
 */

/** The window, with what the desktop app may add to it. */
const tauriWindow = /** @type {Window & { __TAURI__?: TauriGlobal; __TAURI_INTERNALS__?: unknown }} */ (window);

/** @typedef {"connecting" | "connected" | "disconnected"} ConnectionState */

/**
 * @typedef {object} TransportHooks
 * @property {(message: Outgoing) => void} onMessage Every event the engine or the panel sends unasked.
 * @property {(state: ConnectionState) => void} onConnection Connection changes (always "connected" in Tauri).
 * @property {() => void} onReady Connected (or reconnected): time to ask for `status` and redraw everything.
 */

/**
 * @typedef {object} Transport
 * @property {"tauri" | "browser"} host
 * @property {(command: Command) => Promise<Reply>} send Resolves to the Reply, rejects with the failure in words.
 */

/**
 * How the modules send: failures are shown in `errorEl` and logged, and give null.
 * @typedef {(command: Command, errorEl: HTMLElement) => Promise<Reply | null>} Send
 */

/**
 * The reply if it is of the expected kind, else null (a protocol mismatch, logged).
 * @template {Reply["kind"]} K
 * @param {Reply | null} reply
 * @param {K} kind
 * @returns {Extract<Reply, { kind: K }> | null}
 */
export function replyOf(reply, kind) {
  if (reply === null) return null;
  if (reply.kind !== kind) {
    console.error(`voxdeck: expected a "${kind}" reply, got "${reply.kind}"`);
    return null;
  }
  return /** @type {Extract<Reply, { kind: K }>} */ (reply);
}

/**
 * The desktop app serves the page from its own scheme (tauri://localhost on Linux and macOS,
 * http://tauri.localhost on Windows) and injects its internals; anything else is `voxdeck serve`.
 * @returns {"tauri" | "browser"}
 */
export function detectHost() {
  const own = location.protocol === "tauri:" || location.hostname === "tauri.localhost";
  return own || tauriWindow.__TAURI__ || tauriWindow.__TAURI_INTERNALS__ ? "tauri" : "browser";
}

/**
 * @param {TransportHooks} hooks
 * @returns {Transport}
 */
export function connect(hooks) {
  return detectHost() === "tauri" ? connectTauri(hooks) : connectWebSocket(hooks);
}

/**
 * window.__TAURI__, which WebKitGTK may attach a moment after the page's modules run.
 * @returns {Promise<TauriGlobal>}
 */
function tauriGlobal() {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    /** @returns {void} */
    const look = () => {
      if (tauriWindow.__TAURI__) resolve(tauriWindow.__TAURI__);
      else if (Date.now() - started > 10000) reject(new Error("the desktop app's API (window.__TAURI__) never appeared"));
      else setTimeout(look, 20);
    };
    look();
  });
}

/**
 * @param {TransportHooks} hooks
 * @returns {Transport}
 */
function connectTauri(hooks) {
  hooks.onConnection("connected");
  const ready = tauriGlobal();
  // Listen before asking for status, so nothing sent in between is lost.
  ready
    .then((tauri) => tauri.event.listen("voxdeck:event", (e) => hooks.onMessage(/** @type {Outgoing} */ (e.payload))))
    .catch((/** @type {unknown} */ e) => {
      // Commands still work; say in words that live updates will not arrive.
      console.error("voxdeck: cannot listen to engine events:", e);
      hooks.onMessage({ type: "error", turn: null, stage: "events", message: `cannot listen to engine events: ${String(e)}` });
    })
    .finally(() => hooks.onReady());
  return {
    host: "tauri",
    /**
     * @param {Command} command
     * @returns {Promise<Reply>}
     */
    async send(command) {
      // The app's one command takes the tagged Command whole, as the WebSocket does.
      const tauri = await ready;
      return /** @type {Reply} */ (await tauri.core.invoke("handle", { command }));
    },
  };
}

const TOKEN_KEY = "voxdeck.token";

/**
 * The access token from the page URL, remembered for the tab so a reload keeps working.
 * @returns {string | null}
 */
function accessToken() {
  const fromUrl = new URLSearchParams(location.search).get("token");
  try {
    if (fromUrl) sessionStorage.setItem(TOKEN_KEY, fromUrl);
    return fromUrl ?? sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return fromUrl; // storage disabled: the URL is all we have
  }
}

/** @returns {string} */
function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const token = accessToken();
  const query = token ? `?token=${encodeURIComponent(token)}` : "";
  return `${scheme}://${location.host}/ws${query}`;
}

/**
 * @typedef {object} Pending
 * @property {(reply: Reply) => void} resolve
 * @property {(error: Error) => void} reject
 */

const MIN_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 10000;

/**
 * @param {TransportHooks} hooks
 * @returns {Transport}
 */
function connectWebSocket(hooks) {
  /** @type {WebSocket | null} */
  let socket = null;
  let nextId = 1;
  let backoff = MIN_BACKOFF_MS;
  /** @type {ReturnType<typeof setTimeout> | null} */
  let retryTimer = null;
  let firstAttempt = true;
  /** @type {Map<number, Pending>} */
  const pending = new Map();

  /** @returns {void} */
  function open() {
    retryTimer = null;
    // Only the first attempt says "connecting"; retries keep "disconnected, reconnecting…"
    // on screen rather than flickering between the two.
    if (firstAttempt) hooks.onConnection("connecting");
    firstAttempt = false;
    /** @type {WebSocket} */
    let ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch (e) {
      console.error("voxdeck: cannot open the WebSocket:", e);
      scheduleReconnect();
      return;
    }
    socket = ws;
    ws.addEventListener("open", () => {
      backoff = MIN_BACKOFF_MS;
      hooks.onConnection("connected");
      hooks.onReady();
    });
    ws.addEventListener("message", (e) => receive(e.data));
    // "error" is always followed by "close"; reconnecting happens there, once.
    ws.addEventListener("close", () => {
      if (socket !== ws) return;
      socket = null;
      for (const p of pending.values()) p.reject(new Error("disconnected from voxdeck before it answered"));
      pending.clear();
      scheduleReconnect();
    });
  }

  // A one-shot timer per attempt, 1 s doubling to 10 s: nothing runs while connected.
  /** @returns {void} */
  function scheduleReconnect() {
    hooks.onConnection("disconnected");
    if (retryTimer !== null) return;
    retryTimer = setTimeout(open, backoff);
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  }

  // Back online: try now rather than at the end of the backoff.
  window.addEventListener("online", () => {
    if (retryTimer !== null) {
      clearTimeout(retryTimer);
      open();
    }
  });

  /**
   * @param {unknown} data
   * @returns {void}
   */
  function receive(data) {
    if (typeof data !== "string") return;
    /** @type {unknown} */
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      console.error("voxdeck: a message that is not JSON:", data.slice(0, 200));
      return;
    }
    if (!message || typeof message !== "object") return;
    if (/** @type {{ type?: unknown }} */ (message).type === "reply") {
      const reply = /** @type {WsReply} */ (message);
      const waiting = pending.get(reply.id);
      if (!waiting) return;
      pending.delete(reply.id);
      if (reply.ok !== null && reply.ok !== undefined) waiting.resolve(reply.ok);
      else waiting.reject(new Error(reply.error ?? "the command failed (no reason given)"));
      return;
    }
    hooks.onMessage(/** @type {Outgoing} */ (message));
  }

  open();

  return {
    host: "browser",
    /**
     * @param {Command} command
     * @returns {Promise<Reply>}
     */
    send(command) {
      const ws = socket;
      if (!ws || ws.readyState !== WebSocket.OPEN) {
        return Promise.reject(new Error("not connected to voxdeck (reconnecting…)"));
      }
      const id = nextId++;
      /** @type {WsRequest} */
      const request = { id, command };
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        try {
          ws.send(JSON.stringify(request));
        } catch (e) {
          pending.delete(id);
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      });
    },
  };
}
