// @ts-check
// The three live charts (tok/s, memory, latency): the backend draws them (plotters SVG) and
// we only place them, with the figures under each. Redrawn only when ChartSet.seq moves on,
// so a repeated or stale set costs nothing.

import { byId, el, formatNumber, insertSvg } from "./dom.js";

/** @typedef {import("../../bindings/Chart").Chart} Chart */
/** @typedef {import("../../bindings/ChartSet").ChartSet} ChartSet */
/** @typedef {import("../../bindings/Figure").Figure} Figure */

const NAMES = /** @type {const} */ (["tok_s", "memory", "latency"]);
/** @typedef {(typeof NAMES)[number]} ChartName */

/**
 * "generation: 171.2 tok/s now · median 168.0 (last 10)".
 * @param {Figure} f
 * @returns {string}
 */
export function figureText(f) {
  const now = f.current === null ? "no reading yet" : `${formatNumber(f.current)} ${f.unit} now`;
  const median = f.median === null ? "" : ` · median ${formatNumber(f.median)} (last 10)`;
  return `${f.label}: ${now}${median}`;
}

/**
 * @typedef {object} ChartView
 * @property {HTMLElement} title
 * @property {HTMLElement} svg
 * @property {HTMLElement} figures
 * @property {string} shown The SVG text on screen: an unchanged chart is not parsed and laid out again.
 */

export class Charts {
  #lastSeq = -1;
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

  /**
   * A new connection may face a restarted backend whose seq starts again.
   * @param {ChartSet | null} set
   * @returns {void}
   */
  reset(set) {
    this.#lastSeq = -1;
    if (set) this.render(set);
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
    if (chart.svg === view.shown) return;
    view.shown = chart.svg;
    insertSvg(view.svg, chart.svg);
    view.figures.replaceChildren(
      ...chart.figures.map((f) =>
        el("p", {
          class: "figure",
          text: figureText(f),
          attrs: { "data-label": f.label, "data-current": f.current === null ? "" : String(f.current) },
        }),
      ),
    );
  }
}
