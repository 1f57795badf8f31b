// @ts-check
// The push-to-talk button: press on pointer down or key down, release on up. Keys: Space
// anywhere but on another control, and Enter or Space on the focused button. The button only
// mirrors the engine's TurnState; it never guesses one. Pressing while the assistant thinks or
// speaks is a barge-in, which the engine handles: we just send `press`.

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
 * What the polite live region says in each state: short, and only when it changes.
 * @type {Record<TurnState, string>}
 */
const ANNOUNCED = {
  idle: "ready",
  listening: "listening",
  transcribing: "thinking",
  thinking: "thinking",
  speaking: "answering",
};

/** Controls whose own keys Space (and Enter) are when focused. */
const CONTROLS = "button, input, select, textarea, a[href], summary, [contenteditable]:not([contenteditable='false']), [role='button'], [role='tab']";

/**
 * Whether the focused element is a control other than the talk button, which Space activates
 * or types into.
 * @param {EventTarget | null} target
 * @param {HTMLElement} talk
 * @returns {boolean}
 */
function isOtherControl(target, talk) {
  if (!(target instanceof HTMLElement) || target === talk) return false;
  return target.isContentEditable || target.closest(CONTROLS) !== null;
}

export class PushToTalk {
  /** @readonly */ #button = byId("ptt", HTMLButtonElement);
  /** @readonly */ #label = byId("ptt-label");
  /** @readonly */ #meter = byId("level-meter");
  /** @readonly */ #level = byId("level");
  /** @readonly */ #error = byId("ptt-error");
  /** @readonly */ #shortcut = byId("shortcut");
  /** @readonly */ #io = byId("io");
  /** @readonly */ #live = byId("ptt-live");
  /** @readonly */ #reason = byId("ptt-reason");
  /** Why the button cannot be used now (null: it can). @type {string | null} */
  #unavailable = "Connecting…";
  /** @type {EngineStatus["state"] | null} */ #engineState = null;
  /**
   * Who holds the button now; a second source cannot press again or release the first.
   * @type {"pointer" | "key" | null}
   */
  #heldBy = null;
  /** The key (`KeyboardEvent.code`) holding the button, released by its own keyup only. */
  #heldKey = "";
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
      if (e.ctrlKey || e.altKey || e.metaKey) return;
      const enter = e.key === "Enter" && e.target === b;
      if ((e.code !== "Space" && !enter) || isOtherControl(e.target, b)) return;
      e.preventDefault(); // no page scroll, no click on the focused button
      if (e.repeat || this.#heldBy) return; // a held key repeats: one press
      this.#heldKey = e.code;
      this.#press("key");
    });
    window.addEventListener("keyup", (e) => {
      if (this.#heldBy !== "key" || e.code !== this.#heldKey) return;
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
    this.#button.setAttribute("aria-pressed", "true");
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
    this.#button.setAttribute("aria-pressed", "false");
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
    const said = ANNOUNCED[state] ?? state;
    if (this.#live.textContent !== said) this.#live.textContent = said;
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
