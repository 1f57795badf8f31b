// @ts-check
// The push-to-talk button: press on pointer down or Space down, release on up. The button
// only mirrors the engine's TurnState; it never guesses one. Pressing while the assistant
// thinks or speaks is a barge-in, which the engine handles: we just send `press`.

import { byId, describeError, showMessage } from "./dom.js";

/** @typedef {import("../../bindings/TurnState").TurnState} TurnState */
/** @typedef {import("../../bindings/EngineStatus").EngineStatus} EngineStatus */
/** @typedef {import("./transport.js").Send} Send */

/** @type {Record<TurnState, string>} */
const LABELS = {
  idle: "Hold to talk",
  listening: "Listening…",
  transcribing: "Transcribing…",
  thinking: "Thinking…",
  speaking: "Speaking — press to interrupt",
};

/**
 * rms_dbfs -60..0 → 0..100 % of the meter.
 * @param {number} dbfs
 * @returns {number}
 */
export function levelPercent(dbfs) {
  if (!Number.isFinite(dbfs)) return 0;
  return Math.min(100, Math.max(0, ((dbfs + 60) / 60) * 100));
}

/**
 * Whether Space belongs to the focused element: typing in a field, or a button elsewhere
 * than the Talk panel (Space activates it). On the Talk panel and the tabs, Space talks.
 * @param {EventTarget | null} target
 * @returns {boolean}
 */
function spaceIsTaken(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target.closest("input, textarea, select") !== null) return true;
  return target.closest("button") !== null && target.closest("#panel-talk, .tabs") === null;
}

export class PushToTalk {
  /** @readonly */ #button = byId("ptt", HTMLButtonElement);
  /** @readonly */ #label = byId("ptt-label");
  /** @readonly */ #meter = byId("level-meter");
  /** @readonly */ #level = byId("level");
  /** @readonly */ #error = byId("ptt-error");
  /** @readonly */ #shortcut = byId("shortcut");
  /** @readonly */ #io = byId("io");
  /** @readonly */ #reason = byId("ptt-reason");
  /** Why the button cannot be used now (null: it can). @type {string | null} */
  #unavailable = "Connecting…";
  /** @type {EngineStatus["state"] | null} */ #engineState = null;
  /**
   * Who holds the button now; a second source cannot press again or release the first.
   * @type {"pointer" | "key" | null}
   */
  #heldBy = null;
  /**
   * The press in flight: a release waits for it and is skipped if it failed.
   * @type {Promise<boolean>}
   */
  #pressing = Promise.resolve(false);
  /** @readonly @type {Send} */ #send;
  /** @readonly @type {"tauri" | "browser"} */ #host;

  /**
   * @param {Send} send
   * @param {"tauri" | "browser"} host
   */
  constructor(send, host) {
    this.#send = send;
    this.#host = host;
    const b = this.#button;
    b.addEventListener("pointerdown", (e) => {
      if (e.pointerType === "mouse" && e.button !== 0) return;
      e.preventDefault(); // no text selection or focus steal on a long hold
      try {
        b.setPointerCapture(e.pointerId); // keep receiving pointerup even off the button
      } catch {
        /* pointer already gone */
      }
      this.#press("pointer");
    });
    /** @returns {void} */
    const up = () => this.#release("pointer");
    b.addEventListener("pointerup", up);
    b.addEventListener("pointercancel", up);
    b.addEventListener("lostpointercapture", up);
    b.addEventListener("pointerleave", () => {
      if (this.#heldBy === "pointer") up();
    });
    // A long touch would open the context menu and steal the pointer.
    b.addEventListener("contextmenu", (e) => e.preventDefault());

    window.addEventListener("keydown", (e) => {
      if (e.code !== "Space" || e.ctrlKey || e.altKey || e.metaKey || spaceIsTaken(e.target)) return;
      e.preventDefault(); // no page scroll, no click on a focused button
      if (!e.repeat) this.#press("key");
    });
    window.addEventListener("keyup", (e) => {
      if (e.code !== "Space" || this.#heldBy !== "key") return;
      e.preventDefault();
      this.#release("key");
    });
    // Losing the window while held would leave the microphone open.
    window.addEventListener("blur", () => {
      if (this.#heldBy) this.#release(this.#heldBy);
    });
  }

  /**
   * @param {"pointer" | "key"} source
   * @returns {void}
   */
  #press(source) {
    if (this.#heldBy || this.#unavailable !== null) return;
    this.#heldBy = source;
    this.#button.classList.add("held");
    this.#pressing = this.#send({ cmd: "press" }, this.#error).then((reply) => {
      if (reply) showMessage(this.#error, null);
      return reply !== null;
    });
  }

  /**
   * @param {"pointer" | "key"} source
   * @returns {void}
   */
  #release(source) {
    if (this.#heldBy !== source) return;
    this.#heldBy = null;
    this.#button.classList.remove("held");
    // Keep the press's failure on screen rather than a "not listening" from the release.
    this.#pressing
      .then((pressed) => (pressed ? this.#send({ cmd: "release" }, this.#error) : null))
      .catch((/** @type {unknown} */ e) => {
        console.error("voxdeck: release failed:", e);
        showMessage(this.#error, describeError(e));
      });
  }

  /**
   * Enables the button only with the models loaded; otherwise it says why (aria-disabled
   * keeps it focusable, so a screen reader hears the reason).
   * @param {EngineStatus} status
   * @param {boolean} firstRun no models installed yet
   * @returns {void}
   */
  setEngine(status, firstRun) {
    /** @type {string | null} */
    let why = null;
    if (status.state === "loading") why = status.index > 0 ? `Loading ${status.index}/${status.of}…` : "Loading…";
    else if (firstRun && status.state !== "ready") why = "Download the models first";
    else if (status.state === "unloaded") why = "Models not loaded: press Load";
    else if (status.state === "failed") why = `Load failed: ${status.message}`;
    this.#unavailable = why;
    this.#button.setAttribute("aria-disabled", String(why !== null));
    this.#reason.textContent = why ?? "";
    this.#reason.hidden = why === null;
    // A "not loaded" from an earlier press does not outlive the state it was about.
    if (status.state !== this.#engineState) showMessage(this.#error, null);
    this.#engineState = status.state;
  }

  /**
   * @param {TurnState} state
   * @returns {void}
   */
  setState(state) {
    this.#button.dataset.state = state;
    this.#label.textContent = LABELS[state] ?? state;
    this.#meter.hidden = state !== "listening";
    if (state !== "listening") this.inputLevel(-Infinity);
  }

  /**
   * @param {number} rmsDbfs
   * @returns {void}
   */
  inputLevel(rmsDbfs) {
    const pct = levelPercent(rmsDbfs);
    this.#level.style.width = `${pct.toFixed(1)}%`;
    this.#level.dataset.dbfs = Number.isFinite(rmsDbfs) ? rmsDbfs.toFixed(1) : "";
    this.#meter.setAttribute("aria-valuenow", Number.isFinite(rmsDbfs) ? rmsDbfs.toFixed(0) : "-60");
  }

  /**
   * What push-to-talk listens to and where answers are spoken, and the global shortcut.
   * @param {string} input
   * @param {string} output
   * @param {string} shortcut
   * @returns {void}
   */
  describe(input, output, shortcut) {
    this.#io.textContent = `Input: ${input || "—"} · Output: ${output || "—"}`;
    // Only the desktop app registers the global shortcut.
    const show = this.#host === "tauri" && shortcut.trim() !== "";
    this.#shortcut.textContent = show ? `or hold ${readable(shortcut)} anywhere` : "";
    this.#shortcut.hidden = !show;
  }
}

/**
 * Tauri's accelerator as people write it: "CommandOrControl+Shift+Space" is Ctrl+Shift+Space
 * (⌘ on a Mac).
 * @param {string} accelerator
 * @returns {string}
 */
function readable(accelerator) {
  const mac = navigator.platform.toLowerCase().startsWith("mac");
  return accelerator.replace(/\b(CommandOrControl|CmdOrCtrl)\b/g, mac ? "⌘" : "Ctrl");
}
