// @ts-check
// The three live charts (tok/s, memory, latency): the backend draws them (plotters SVG) and
// we only place them, with the figures under each and their one-line summary as the chart's
// accessible name. Redrawn only when ChartSet.seq moves on, so a repeated or stale set costs
// nothing.
//
// The backend draws them for the size they are shown at: a ResizeObserver reports the charts'
// CSS size, the device pixel ratio and the theme (`chart_view`), debounced, and only when they
// changed; nothing runs while the page is idle. With several front ends, the last report wins.
// The section can be collapsed (remembered in localStorage) to give the conversation the height.

import { byId, el, formatNumber, insertSvg, showMessage } from "./dom.js";

/** @typedef {import("../../bindings/Chart").Chart} Chart */
/** @typedef {import("../../bindings/ChartSet").ChartSet} ChartSet */
/** @typedef {import("../../bindings/Figure").Figure} Figure */
/** @typedef {import("./transport.js").Send} Send */

const NAMES = /** @type {const} */ (["tok_s", "memory", "latency"]);
/** @typedef {(typeof NAMES)[number]} ChartName */

/**
 * A figure's three cells: its label, the value now and the median of the last 10
 * ("generation", "171.2 tok/s", "median 168.0"); the row's title says it in one sentence.
 * @param {Figure} f
 * @returns {{ label: string, now: string, median: string, title: string }}
 */
export function figureCells(f) {
  const now = f.current === null ? "no reading yet" : `${formatNumber(f.current, f.digits)} ${f.unit}`;
  const median = f.median === null ? "" : `median ${formatNumber(f.median, f.digits)}`;
  const title = `${f.label}: ${now}${f.current === null ? "" : " now"}${median ? ` · ${median} ${f.unit} (last 10)` : ""}`;
  return { label: f.label, now, median, title };
}

/** Where the collapsed state is remembered. */
const COLLAPSED_KEY = "voxdeck.charts.collapsed";
/** Resizes settle (a window drag sends dozens) before the backend redraws. */
const REPORT_DELAY_MS = 150;

/**
 * @typedef {object} Viewport
 * @property {number} width CSS pixels
 * @property {number} height CSS pixels
 * @property {number} pixel_ratio
 * @property {boolean} dark
 */

/**
 * @typedef {object} ChartView
 * @property {HTMLElement} title
 * @property {HTMLElement} svg
 * @property {HTMLElement} figures
 * @property {string} shown The SVG text on screen: an unchanged chart is not parsed and laid out again.
 */

export class Charts {
  #lastSeq = -1;
  /** @readonly @type {Send} */
  #send;
  /** @readonly */
  #error = byId("charts-error");
  /** @readonly */
  #toggle = byId("charts-toggle", HTMLButtonElement);
  /** @readonly */
  #body = byId("charts-body");
  /** The last view sent, as JSON: an unchanged one is not sent again. @type {string} */
  #sentView = "";
  /** @type {ReturnType<typeof setTimeout> | null} */
  #pending = null;
  /** Set by the first `reset` (a status after connecting): before it there is no one to tell. */
  #connected = false;
  /** @readonly @type {Map<ChartName, ChartView>} */
  #views = new Map(
    NAMES.map((name) => {
      const root = byId(`chart-${name}`);
      /**
       * @param {string} cls
       * @returns {HTMLElement}
       */
      const part = (cls) => {
        const found = root.querySelector(`.${cls}`);
        if (!(found instanceof HTMLElement)) throw new Error(`#chart-${name} has no .${cls}`);
        return found;
      };
      return [name, { title: part("chart-title"), svg: part("chart-svg"), figures: part("figures"), shown: "" }];
    }),
  );

  /** @param {Send} send */
  constructor(send) {
    this.#send = send;
    this.#toggle.addEventListener("click", () => this.#setCollapsed(this.#toggle.getAttribute("aria-expanded") === "true"));
    this.#setCollapsed(readCollapsed());
    // Every chart has the same size (one grid column each); the first one stands for all.
    const first = this.#views.get("tok_s");
    if (first && typeof ResizeObserver === "function") {
      new ResizeObserver(() => this.#scheduleReport()).observe(first.svg);
    }
  }

  /**
   * A new connection may face a restarted backend whose seq starts again, and that has not
   * heard our size (or heard another front end's since): report it again.
   * @param {ChartSet | null} set
   * @returns {void}
   */
  reset(set) {
    this.#lastSeq = -1;
    this.#sentView = "";
    this.#connected = true;
    this.#scheduleReport();
    if (set) this.render(set);
  }

  /**
   * @param {boolean} collapsed
   * @returns {void}
   */
  #setCollapsed(collapsed) {
    this.#body.hidden = collapsed;
    this.#toggle.setAttribute("aria-expanded", String(!collapsed));
    this.#toggle.textContent = collapsed ? "Show charts" : "Hide charts";
    try {
      localStorage.setItem(COLLAPSED_KEY, collapsed ? "1" : "0");
    } catch {
      // Storage off (private mode, a locked-down webview): the choice lasts this page only.
    }
  }

  /** @returns {void} */
  #scheduleReport() {
    if (this.#pending !== null) clearTimeout(this.#pending);
    this.#pending = setTimeout(() => {
      this.#pending = null;
      void this.#report();
    }, REPORT_DELAY_MS);
  }

  /**
   * Sends the charts' shown size, pixel ratio and theme if they changed (not while hidden:
   * a collapsed section or another tab has no size).
   * @returns {Promise<void>}
   */
  async #report() {
    const view = this.#connected ? this.#viewport() : null;
    if (!view) return;
    const key = JSON.stringify(view);
    if (key === this.#sentView) return;
    this.#sentView = key;
    const reply = await this.#send({ cmd: "chart_view", ...view }, this.#error);
    if (reply) showMessage(this.#error, null);
    else this.#sentView = "";
  }

  /** @returns {Viewport | null} */
  #viewport() {
    const first = this.#views.get("tok_s");
    if (!first) return null;
    const box = first.svg.getBoundingClientRect();
    if (box.width < 1 || box.height < 1) return null;
    const scheme = getComputedStyle(document.documentElement).colorScheme;
    return {
      width: Math.round(box.width),
      height: Math.round(box.height),
      pixel_ratio: window.devicePixelRatio || 1,
      dark: !scheme.startsWith("light"),
    };
  }

  /**
   * @param {ChartSet} set
   * @returns {void}
   */
  render(set) {
    if (set.seq <= this.#lastSeq) return;
    this.#lastSeq = set.seq;
    for (const name of NAMES) {
      const view = this.#views.get(name);
      if (view) this.#draw(view, set[name]);
    }
  }

  /**
   * @param {ChartView} view
   * @param {Chart} chart
   * @returns {void}
   */
  #draw(view, chart) {
    if (chart.title && view.title.textContent !== chart.title) view.title.textContent = chart.title;
    if (chart.svg === view.shown) {
      view.svg.querySelector("svg")?.setAttribute("aria-label", chart.summary);
      return;
    }
    view.shown = chart.svg;
    insertSvg(view.svg, chart.svg);
    view.svg.querySelector("svg")?.setAttribute("aria-label", chart.summary);
    view.figures.replaceChildren(
      ...chart.figures.map((f) => {
        const c = figureCells(f);
        return el(
          "p",
          {
            class: "figure",
            attrs: { "data-label": f.label, "data-current": f.current === null ? "" : String(f.current) },
          },
          el("span", { class: "figure-label", text: c.label, attrs: { title: c.title } }),
          el("span", { class: "figure-now", text: c.now, attrs: { title: c.title } }),
          el("span", { class: "figure-median", text: c.median, attrs: { title: c.title } }),
        );
      }),
    );
  }
}

/** @returns {boolean} */
function readCollapsed() {
  try {
    return localStorage.getItem(COLLAPSED_KEY) === "1";
  } catch {
    return false;
  }
}
