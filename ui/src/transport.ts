// The one place the two hosts differ. The desktop app (Tauri) gives us invoke() and an
// event channel; `voxdeck serve` gives us a WebSocket carrying the same JSON. Everything
// above this module sees only send(Command) -> Reply and a stream of Outgoing.

import type { Command } from "./bindings/Command.js";
import type { Outgoing } from "./bindings/Outgoing.js";
import type { Reply } from "./bindings/Reply.js";
import type { WsReply } from "./bindings/WsReply.js";
import type { WsRequest } from "./bindings/WsRequest.js";

/** What Tauri's `withGlobalTauri = true` puts on window (no @tauri-apps/api package). */
interface TauriGlobal {
  core: { invoke(cmd: string, args?: Record<string, unknown>): Promise<unknown> };
  event: { listen(event: string, handler: (e: { payload: unknown }) => void): Promise<() => void> };
}

declare global {
  interface Window {
    __TAURI__?: TauriGlobal;
    __TAURI_INTERNALS__?: unknown;
  }
}

export type ConnectionState = "connecting" | "connected" | "disconnected";

export interface TransportHooks {
  /** Every event the engine or the panel sends unasked. */
  onMessage(message: Outgoing): void;
  /** Connection changes (always "connected" in Tauri). */
  onConnection(state: ConnectionState): void;
  /** Connected (or reconnected): time to ask for `status` and redraw everything. */
  onReady(): void;
}

export interface Transport {
  readonly host: "tauri" | "browser";
  /** Resolves to the Reply, rejects with the failure in words. */
  send(command: Command): Promise<Reply>;
}

/** How the modules send: failures are shown in `errorEl` and logged, and give null. */
export type Send = (command: Command, errorEl: HTMLElement) => Promise<Reply | null>;

/** The reply if it is of the expected kind, else null (a protocol mismatch, logged). */
export function replyOf<K extends Reply["kind"]>(reply: Reply | null, kind: K): Extract<Reply, { kind: K }> | null {
  if (reply === null) return null;
  if (reply.kind !== kind) {
    console.error(`voxdeck: expected a "${kind}" reply, got "${reply.kind}"`);
    return null;
  }
  return reply as Extract<Reply, { kind: K }>;
}

/** The desktop app serves the page from its own scheme (tauri://localhost on Linux and macOS,
 * http://tauri.localhost on Windows) and injects its internals; anything else is `voxdeck serve`. */
export function detectHost(): "tauri" | "browser" {
  const own = location.protocol === "tauri:" || location.hostname === "tauri.localhost";
  return own || window.__TAURI__ || window.__TAURI_INTERNALS__ ? "tauri" : "browser";
}

export function connect(hooks: TransportHooks): Transport {
  return detectHost() === "tauri" ? connectTauri(hooks) : connectWebSocket(hooks);
}

/** window.__TAURI__, which WebKitGTK may attach a moment after the page's modules run. */
function tauriGlobal(): Promise<TauriGlobal> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const look = (): void => {
      if (window.__TAURI__) resolve(window.__TAURI__);
      else if (Date.now() - started > 10000) reject(new Error("the desktop app's API (window.__TAURI__) never appeared"));
      else setTimeout(look, 20);
    };
    look();
  });
}

function connectTauri(hooks: TransportHooks): Transport {
  hooks.onConnection("connected");
  const ready = tauriGlobal();
  // Listen before asking for status, so nothing sent in between is lost.
  ready
    .then((tauri) => tauri.event.listen("voxdeck:event", (e) => hooks.onMessage(e.payload as Outgoing)))
    .catch((e: unknown) => {
      // Commands still work; say in words that live updates will not arrive.
      console.error("voxdeck: cannot listen to engine events:", e);
      hooks.onMessage({ type: "error", turn: null, stage: "events", message: `cannot listen to engine events: ${String(e)}` });
    })
    .finally(() => hooks.onReady());
  return {
    host: "tauri",
    async send(command: Command): Promise<Reply> {
      // The app's one command takes the tagged Command whole, as the WebSocket does.
      const tauri = await ready;
      return (await tauri.core.invoke("handle", { command })) as Reply;
    },
  };
}

const TOKEN_KEY = "voxdeck.token";

/** The access token from the page URL, remembered for the tab so a reload keeps working. */
function accessToken(): string | null {
  const fromUrl = new URLSearchParams(location.search).get("token");
  try {
    if (fromUrl) sessionStorage.setItem(TOKEN_KEY, fromUrl);
    return fromUrl ?? sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return fromUrl; // storage disabled: the URL is all we have
  }
}

function socketUrl(): string {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const token = accessToken();
  const query = token ? `?token=${encodeURIComponent(token)}` : "";
  return `${scheme}://${location.host}/ws${query}`;
}

interface Pending {
  resolve(reply: Reply): void;
  reject(error: Error): void;
}

const MIN_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 10000;

function connectWebSocket(hooks: TransportHooks): Transport {
  let socket: WebSocket | null = null;
  let nextId = 1;
  let backoff = MIN_BACKOFF_MS;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;
  let firstAttempt = true;
  const pending = new Map<number, Pending>();

  function open(): void {
    retryTimer = null;
    // Only the first attempt says "connecting"; retries keep "disconnected, reconnecting…"
    // on screen rather than flickering between the two.
    if (firstAttempt) hooks.onConnection("connecting");
    firstAttempt = false;
    let ws: WebSocket;
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
  function scheduleReconnect(): void {
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

  function receive(data: unknown): void {
    if (typeof data !== "string") return;
    let message: unknown;
    try {
      message = JSON.parse(data);
    } catch {
      console.error("voxdeck: a message that is not JSON:", data.slice(0, 200));
      return;
    }
    if (!message || typeof message !== "object") return;
    if ((message as { type?: unknown }).type === "reply") {
      const reply = message as WsReply;
      const waiting = pending.get(reply.id);
      if (!waiting) return;
      pending.delete(reply.id);
      if (reply.ok !== null && reply.ok !== undefined) waiting.resolve(reply.ok);
      else waiting.reject(new Error(reply.error ?? "the command failed (no reason given)"));
      return;
    }
    hooks.onMessage(message as Outgoing);
  }

  open();

  return {
    host: "browser",
    send(command: Command): Promise<Reply> {
      const ws = socket;
      if (!ws || ws.readyState !== WebSocket.OPEN) {
        return Promise.reject(new Error("not connected to voxdeck (reconnecting…)"));
      }
      const id = nextId++;
      const request: WsRequest = { id, command };
      return new Promise<Reply>((resolve, reject) => {
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
