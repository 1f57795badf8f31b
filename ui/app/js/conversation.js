// @ts-check
// The conversation: one `.turn` per turn, filled as its events arrive (transcript, streamed
// answer, notices, errors) and settled by its TurnRecord. All text goes in via textContent.
// The list scrolls on its own and follows the newest turn unless the user scrolled up; then a
// "newest" button brings them back.

import { byId, el } from "./dom.js";
import { toolChip } from "./tool_calls.js";
import { breakdown, statsOf } from "./turn_stats.js";

/** @typedef {import("../../bindings/TurnRecord").TurnRecord} TurnRecord */
/** @typedef {import("../../bindings/TurnState").TurnState} TurnState */
/** @typedef {import("../../bindings/ToolCallRecord").ToolCallRecord} ToolCallRecord */

/**
 * @typedef {object} TurnView
 * @property {HTMLElement} root
 * @property {HTMLElement} transcript
 * @property {Text} answer One text node the deltas append to, rather than re-setting the whole answer each time.
 * @property {HTMLElement} engine
 * @property {HTMLElement} notes
 * @property {HTMLElement} tools The tool calls' chips (hidden while there are none).
 * @property {HTMLDetailsElement} stats The stats line, disclosing the breakdown.
 * @property {boolean} complete
 */

/** Global notices and errors kept on screen; older ones are dropped. */
const MAX_GLOBAL = 20;
/** Within this many pixels of the end, the list counts as following the newest turn. */
const FOLLOW_SLACK_PX = 24;

/**
 * The turn's label: the model's short name, and the route as a short badge whose title holds
 * the whole reason (a fallback's too, which the engine's notice states once per streak).
 * @param {TurnRecord} record
 * @returns {{ name: string, badge: string, reason: string } | null}
 */
export function engineLabel(record) {
  if (!record.engine) return null;
  const name = record.model_name ?? record.model ?? record.engine;
  const badge = record.fallback ? "fallback" : (record.route_label ?? record.engine);
  const reason = [record.route_reason, record.fallback && `fallback: ${record.fallback}`].filter((p) => !!p).join("; ");
  return { name, badge, reason };
}

export class Conversation {
  /** @readonly */ #list = byId("conversation");
  /** @readonly */ #global = byId("errors");
  /** @readonly */ #tokS = byId("live-tok-s");
  /** @readonly */ #newest = byId("conversation-newest", HTMLButtonElement);
  /** @readonly @type {Map<number, TurnView>} */
  #turns = new Map();
  /** Whether new content scrolls the list to its end: false once the user scrolled up. */
  #following = true;

  constructor() {
    const list = this.#list;
    list.addEventListener(
      "scroll",
      () => {
        this.#following = list.scrollHeight - list.scrollTop - list.clientHeight <= FOLLOW_SLACK_PX;
        if (this.#following) this.#newest.hidden = true;
      },
      { passive: true },
    );
    this.#newest.addEventListener("click", () => this.scrollToEnd());
    // A smaller window (or the charts expanding) must not push the newest turn out of view.
    new ResizeObserver(() => this.#follow()).observe(list);
  }

  /**
   * Redraws from a PanelStatus: the finished turns, plus the one in progress if any.
   * @param {TurnRecord[]} records
   * @param {number} turn
   * @param {TurnState} state
   * @returns {void}
   */
  reset(records, turn, state) {
    this.#list.replaceChildren();
    this.#turns.clear();
    for (const record of records) this.complete(record);
    if (turn > 0 && state !== "idle") this.state(turn, state);
    this.#tokS.textContent = "";
    this.#tokS.dataset.live = "false";
    this.scrollToEnd();
  }

  /**
   * @param {number} turn
   * @param {TurnState} state
   * @returns {void}
   */
  state(turn, state) {
    if (turn <= 0) return; // turn 0: before any turn
    const existing = this.#turns.get(turn);
    // A finished turn's number listening again means a new conversation (models reloaded).
    if (state === "listening" && existing?.complete) this.#archive();
    const view = this.#turn(turn);
    view.root.dataset.state = state;
    // A screen reader reads the turn once it is settled, not every streamed piece.
    view.root.setAttribute("aria-busy", String(state !== "idle" && !view.complete));
    this.#follow();
  }

  /**
   * @param {number} turn
   * @param {string} text
   * @returns {void}
   */
  transcript(turn, text) {
    const view = this.#turn(turn);
    view.transcript.textContent = text;
    view.transcript.classList.remove("pending");
    this.#follow();
  }

  /**
   * @param {number} turn
   * @param {string} text
   * @param {number} tokens
   * @param {number} elapsedMs
   * @returns {void}
   */
  answerDelta(turn, text, tokens, elapsedMs) {
    this.#turn(turn).answer.appendData(text);
    if (elapsedMs > 0) {
      this.#tokS.textContent = `${(tokens / (elapsedMs / 1000)).toFixed(1)} tok/s`;
      this.#tokS.dataset.live = "true";
    }
    this.#follow();
  }

  /**
   * @param {number | null} turn
   * @param {string} message
   * @returns {void}
   */
  notice(turn, message) {
    this.#note(turn, "notice", message);
  }

  /**
   * @param {number | null} turn
   * @param {string} stage
   * @param {string} message
   * @returns {void}
   */
  error(turn, stage, message) {
    this.#note(turn, "error", stage ? `${stage}: ${message}` : message);
  }

  /**
   * A tool call as it happens; the record's list replaces these when the turn completes.
   * @param {number} turn
   * @param {ToolCallRecord} call
   * @returns {void}
   */
  toolCall(turn, call) {
    const view = this.#turn(turn);
    view.tools.append(toolChip(call));
    view.tools.hidden = false;
    this.#follow();
  }

  /**
   * @param {TurnRecord} record
   * @returns {void}
   */
  complete(record) {
    const existing = this.#turns.get(record.turn);
    if (existing?.complete && existing.root.dataset.conversation !== record.conversation) this.#archive();
    const view = this.#turn(record.turn);
    const root = view.root;
    view.complete = true;
    root.dataset.complete = "true";
    root.dataset.state = "idle";
    root.setAttribute("aria-busy", "false");
    root.dataset.outcome = record.outcome;
    root.dataset.conversation = record.conversation;

    if (record.transcript) {
      view.transcript.textContent = record.transcript;
      view.transcript.classList.remove("pending");
    } else if (record.outcome === "no_speech") {
      view.transcript.textContent = "(nothing heard)";
      view.transcript.classList.remove("pending");
    }

    view.tools.replaceChildren(...record.tool_calls.map(toolChip));
    view.tools.hidden = record.tool_calls.length === 0;
    // The assistant speaking up on its own (a timer is due), not answering a question.
    root.classList.toggle("announcement", record.announcement);
    root.dataset.announcement = String(record.announcement);
    if (record.announcement) {
      view.transcript.hidden = true;
      const no = root.querySelector(".turn-no");
      if (no) no.textContent = "Assistant";
    }

    // What was spoken replaces what was generated (shorter when interrupted).
    view.answer.data = record.answer;
    root.classList.toggle("interrupted", record.interrupted);
    root.dataset.interrupted = String(record.interrupted);
    if (record.interrupted && !root.querySelector(".interrupted-mark")) {
      view.answer.parentElement?.after(el("span", { class: "interrupted-mark", text: "interrupted" }));
    }

    const label = engineLabel(record);
    view.engine.replaceChildren();
    if (label) {
      view.engine.append(
        el("span", { class: "model-name", text: label.name, attrs: record.model ? { title: record.model } : {} }),
        " ",
        el("span", {
          class: "route-badge",
          text: label.badge,
          attrs: { title: label.reason, "data-fallback": String(!!record.fallback) },
        }),
      );
    }
    view.engine.hidden = label === null;
    if (record.engine) root.dataset.engine = record.engine;
    else delete root.dataset.engine;
    this.#showStats(view, record);

    // The engine sends a notice for these too; a redraw from status has only the record.
    if (record.outcome === "no_speech" && !view.notes.querySelector(".notice")) {
      this.#note(record.turn, "notice", "Didn't catch that — no speech heard.");
    }
    if (record.error && !this.#hasNote(view, record.error)) {
      this.#note(record.turn, record.outcome === "failed" ? "error" : "warning", record.error);
    }

    if (record.gen_tok_s !== null) {
      this.#tokS.textContent = `${record.gen_tok_s.toFixed(1)} tok/s (last answer)`;
    }
    this.#tokS.dataset.live = "false";
    this.#follow();
  }

  /**
   * Shows the newest turn and follows new ones again (the "newest" button; also called when
   * the Talk tab is shown again).
   * @returns {void}
   */
  scrollToEnd() {
    this.#following = true;
    this.#newest.hidden = true;
    this.#list.scrollTop = this.#list.scrollHeight;
  }

  /**
   * After new content: to the end while following, else offer the way there.
   * @returns {void}
   */
  #follow() {
    if (this.#following) this.#list.scrollTop = this.#list.scrollHeight;
    else this.#newest.hidden = false;
  }

  /**
   * The stats line under the answer, and the breakdown it discloses (kept open across a
   * redraw of the same turn).
   * @param {TurnView} view
   * @param {TurnRecord} record
   * @returns {void}
   */
  #showStats(view, record) {
    const stats = statsOf(record);
    const summary = el(
      "summary",
      { class: "stats", attrs: { "aria-label": `Turn ${record.turn} figures: ${stats.map((s) => s.text).join(", ") || "details"}` } },
      ...stats.map((s) => el("span", { class: "stat", text: s.text, attrs: { "data-stat": s.key, "data-value": String(s.value) } })),
    );
    if (stats.length === 0) summary.append(el("span", { class: "stat", text: "details" }));
    view.stats.replaceChildren(summary, breakdown(record));
    view.stats.hidden = false;
  }

  /**
   * @param {number} n
   * @returns {TurnView}
   */
  #turn(n) {
    const found = this.#turns.get(n);
    if (found) return found;
    const transcript = el("p", { class: "transcript pending", text: "…" });
    const answer = document.createTextNode("");
    const engine = el("span", { class: "engine" });
    engine.hidden = true;
    const notes = el("div", { class: "notes" });
    const tools = el("ul", { class: "tool-calls", attrs: { "aria-label": "Tool calls" } });
    tools.hidden = true;
    const stats = el("details", { class: "turn-stats" });
    stats.hidden = true;
    // Opening the last turn's breakdown shows all of it.
    stats.addEventListener("toggle", () => {
      if (stats.open) stats.scrollIntoView({ block: "nearest" });
    });
    const root = el(
      "article",
      { class: "turn", attrs: { "data-turn": String(n) } },
      el("header", { class: "turn-head" }, el("span", { class: "turn-no", text: `Turn ${n}` }), engine),
      transcript,
      tools,
      el("p", { class: "answer" }, answer),
      stats,
      notes,
    );
    this.#list.append(root);
    /** @type {TurnView} */
    const view = { root, transcript, answer, engine, notes, tools, stats, complete: false };
    this.#turns.set(n, view);
    return view;
  }

  /**
   * @param {TurnView} view
   * @param {string} text
   * @returns {boolean}
   */
  #hasNote(view, text) {
    return Array.from(view.notes.children).some((n) => n.textContent?.includes(text));
  }

  /**
   * @param {number | null} turn
   * @param {"notice" | "error" | "warning"} kind
   * @param {string} text
   * @returns {void}
   */
  #note(turn, kind, text) {
    if (turn === null || turn <= 0) {
      this.#global.append(el("p", { class: kind, text }));
      while (this.#global.childElementCount > MAX_GLOBAL) this.#global.firstElementChild?.remove();
      return;
    }
    this.#turn(turn).notes.append(el("p", { class: kind, text }));
    this.#follow();
  }

  /**
   * Earlier turns stay visible but give up their data-turn to the new conversation's.
   * @returns {void}
   */
  #archive() {
    for (const [n, view] of this.#turns) {
      view.root.removeAttribute("data-turn");
      view.root.dataset.previousTurn = String(n);
      view.root.classList.add("previous");
    }
    this.#turns.clear();
    this.#list.append(el("p", { class: "conversation-break", text: "New conversation" }));
  }
}
