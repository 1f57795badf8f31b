// The push-to-talk button: press on pointer down or Space down, release on up. The button
// only mirrors the engine's TurnState; it never guesses one. Pressing while the assistant
// thinks or speaks is a barge-in, which the engine handles: we just send `press`.

import type { TurnState } from "./bindings/TurnState.js";
import { byId, describeError, showMessage } from "./dom.js";
import type { Send } from "./transport.js";

const LABELS: Record<TurnState, string> = {
  idle: "Hold to talk",
  listening: "Listening…",
  transcribing: "Transcribing…",
  thinking: "Thinking…",
  speaking: "Speaking — press to interrupt",
};

/** rms_dbfs -60..0 → 0..100 % of the meter. */
export function levelPercent(dbfs: number): number {
  if (!Number.isFinite(dbfs)) return 0;
  return Math.min(100, Math.max(0, ((dbfs + 60) / 60) * 100));
}

/**
 * Whether Space belongs to the focused element: typing in a field, or a button elsewhere
 * than the Talk panel (Space activates it). On the Talk panel and the tabs, Space talks.
 */
function spaceIsTaken(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target.closest("input, textarea, select") !== null) return true;
  return target.closest("button") !== null && target.closest("#panel-talk, .tabs") === null;
}

export class PushToTalk {
  private readonly button = byId<HTMLButtonElement>("ptt");
  private readonly label = byId("ptt-label");
  private readonly meter = byId("level-meter");
  private readonly level = byId("level");
  private readonly error = byId("ptt-error");
  private readonly shortcut = byId("shortcut");
  private readonly io = byId("io");
  /** Who holds the button now; a second source cannot press again or release the first. */
  private heldBy: "pointer" | "key" | null = null;
  /** The press in flight: a release waits for it and is skipped if it failed. */
  private pressing: Promise<boolean> = Promise.resolve(false);

  constructor(
    private readonly send: Send,
    private readonly host: "tauri" | "browser",
  ) {
    const b = this.button;
    b.addEventListener("pointerdown", (e) => {
      if (e.pointerType === "mouse" && e.button !== 0) return;
      e.preventDefault(); // no text selection or focus steal on a long hold
      try {
        b.setPointerCapture(e.pointerId); // keep receiving pointerup even off the button
      } catch {
        /* pointer already gone */
      }
      this.press("pointer");
    });
    const up = (): void => this.release("pointer");
    b.addEventListener("pointerup", up);
    b.addEventListener("pointercancel", up);
    b.addEventListener("lostpointercapture", up);
    b.addEventListener("pointerleave", () => {
      if (this.heldBy === "pointer") up();
    });
    // A long touch would open the context menu and steal the pointer.
    b.addEventListener("contextmenu", (e) => e.preventDefault());

    window.addEventListener("keydown", (e) => {
      if (e.code !== "Space" || e.ctrlKey || e.altKey || e.metaKey || spaceIsTaken(e.target)) return;
      e.preventDefault(); // no page scroll, no click on a focused button
      if (!e.repeat) this.press("key");
    });
    window.addEventListener("keyup", (e) => {
      if (e.code !== "Space" || this.heldBy !== "key") return;
      e.preventDefault();
      this.release("key");
    });
    // Losing the window while held would leave the microphone open.
    window.addEventListener("blur", () => {
      if (this.heldBy) this.release(this.heldBy);
    });
  }

  private press(source: "pointer" | "key"): void {
    if (this.heldBy) return;
    this.heldBy = source;
    this.button.classList.add("held");
    this.pressing = this.send({ cmd: "press" }, this.error).then((reply) => {
      if (reply) showMessage(this.error, null);
      return reply !== null;
    });
  }

  private release(source: "pointer" | "key"): void {
    if (this.heldBy !== source) return;
    this.heldBy = null;
    this.button.classList.remove("held");
    // Keep the press's failure on screen rather than a "not listening" from the release.
    this.pressing
      .then((pressed) => (pressed ? this.send({ cmd: "release" }, this.error) : null))
      .catch((e: unknown) => {
        console.error("voxdeck: release failed:", e);
        showMessage(this.error, describeError(e));
      });
  }

  setState(state: TurnState): void {
    this.button.dataset.state = state;
    this.label.textContent = LABELS[state] ?? state;
    this.meter.hidden = state !== "listening";
    if (state !== "listening") this.inputLevel(-Infinity);
  }

  inputLevel(rmsDbfs: number): void {
    const pct = levelPercent(rmsDbfs);
    this.level.style.width = `${pct.toFixed(1)}%`;
    this.level.dataset.dbfs = Number.isFinite(rmsDbfs) ? rmsDbfs.toFixed(1) : "";
    this.meter.setAttribute("aria-valuenow", Number.isFinite(rmsDbfs) ? rmsDbfs.toFixed(0) : "-60");
  }

  /** What push-to-talk listens to and where answers are spoken, and the global shortcut. */
  describe(input: string, output: string, shortcut: string): void {
    this.io.textContent = `Input: ${input || "—"} · Output: ${output || "—"}`;
    // Only the desktop app registers the global shortcut.
    const show = this.host === "tauri" && shortcut.trim() !== "";
    this.shortcut.textContent = show ? `or hold ${readable(shortcut)} anywhere` : "";
    this.shortcut.hidden = !show;
  }
}

/** Tauri's accelerator as people write it: "CommandOrControl+Shift+Space" is Ctrl+Shift+Space
 * (⌘ on a Mac). */
function readable(accelerator: string): string {
  const mac = navigator.platform.toLowerCase().startsWith("mac");
  return accelerator.replace(/\b(CommandOrControl|CmdOrCtrl)\b/g, mac ? "⌘" : "Ctrl");
}
