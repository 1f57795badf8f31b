// The three live charts (tok/s, memory, latency): the backend draws them (plotters SVG) and
// we only place them, with the figures under each. Redrawn only when ChartSet.seq moves on,
// so a repeated or stale set costs nothing.

import type { Chart } from "./bindings/Chart.js";
import type { ChartSet } from "./bindings/ChartSet.js";
import type { Figure } from "./bindings/Figure.js";
import { byId, el, formatNumber, insertSvg } from "./dom.js";

const NAMES = ["tok_s", "memory", "latency"] as const;
type ChartName = (typeof NAMES)[number];

/** "generation: 171.2 tok/s now · median 168.0 (last 10)". */
export function figureText(f: Figure): string {
  const now = f.current === null ? "no reading yet" : `${formatNumber(f.current)} ${f.unit} now`;
  const median = f.median === null ? "" : ` · median ${formatNumber(f.median)} (last 10)`;
  return `${f.label}: ${now}${median}`;
}

interface ChartView {
  title: HTMLElement;
  svg: HTMLElement;
  figures: HTMLElement;
  /** The SVG text on screen: an unchanged chart is not parsed and laid out again. */
  shown: string;
}

export class Charts {
  private lastSeq = -1;
  private readonly views = new Map<ChartName, ChartView>(
    NAMES.map((name) => {
      const root = byId(`chart-${name}`);
      const part = (cls: string): HTMLElement => {
        const found = root.querySelector<HTMLElement>(`.${cls}`);
        if (!found) throw new Error(`#chart-${name} has no .${cls}`);
        return found;
      };
      return [name, { title: part("chart-title"), svg: part("chart-svg"), figures: part("figures"), shown: "" }];
    }),
  );

  /** A new connection may face a restarted backend whose seq starts again. */
  reset(set: ChartSet | null): void {
    this.lastSeq = -1;
    if (set) this.render(set);
  }

  render(set: ChartSet): void {
    if (set.seq <= this.lastSeq) return;
    this.lastSeq = set.seq;
    for (const name of NAMES) this.draw(this.views.get(name)!, set[name]);
  }

  private draw(view: ChartView, chart: Chart): void {
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
