//! The live charts, drawn with plotters into SVG strings in [`crate::chart_style`] (fonts,
//! colours, verdict bands, tick labels), so the panel and the bench report look alike.
//!
//! Each chart is drawn for the [`View`] a front end reported: its CSS size as the SVG's viewBox
//! (one SVG unit is one CSS pixel, so text drawn at 12 units is 12 px on the page), in the
//! theme of the UI. Units sit in a caption row above the plot, never beside the tick labels.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::chart_data::{ChartData, MEMORY_WINDOW_S, RAM_LABEL, TURNS_SHOWN};
use crate::bounds::{CHART_HEIGHT, CHART_PIXEL_RATIO, CHART_WIDTH, OutOfRange};
use crate::chart_style::{
    ChartError, Scale, Theme, draw_legend, legend_lines, nice_ceiling, svg_string, tick_label, verdict_color,
    with_color,
};
use crate::voice_latency::Verdict;

/// Size of a live chart before any front end reported its own, in CSS pixels.
pub const LIVE_SIZE: (u32, u32) = (420, 260);
/// Text size on the page, CSS pixels: above the 11 px floor with room for rounding.
const FONT_PX: f64 = 12.0;
/// GiB in bytes: the memory chart's unit.
pub const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// How the charts are drawn: the size they are shown at, the theme, and how much to enlarge
/// the text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    /// CSS pixels, the SVG's viewBox.
    pub size: (u32, u32),
    pub theme: Theme,
    /// 1, or more where the page is zoomed out (a device pixel ratio under 1), so the text stays
    /// at least 11 px on the screen, not only in CSS pixels.
    pub text_scale: f64,
}

impl Default for View {
    /// [`LIVE_SIZE`] in the panel's dark theme, until a front end says how it shows them.
    fn default() -> View {
        View { size: LIVE_SIZE, theme: Theme::DARK, text_scale: 1.0 }
    }
}

impl View {
    /// The view a front end reported, each number pulled into its [`crate::bounds`] range (a
    /// chart narrower than the smallest is drawn at it and scaled down by the browser); a number
    /// that is not a number is refused.
    pub fn reported(width: f64, height: f64, pixel_ratio: f64, dark: bool) -> Result<View, OutOfRange> {
        let width = CHART_WIDTH.clamp(width)?;
        let height = CHART_HEIGHT.clamp(height)?;
        let pixel_ratio = CHART_PIXEL_RATIO.clamp(pixel_ratio)?;
        Ok(View {
            size: (width.round() as u32, height.round() as u32),
            theme: Theme::of(dark),
            text_scale: (1.0 / pixel_ratio).clamp(1.0, 1.5),
        })
    }

    fn px(&self) -> f64 {
        FONT_PX * self.text_scale
    }

    fn font(&self) -> TextStyle<'static> {
        Scale(1.0).text_px(&self.theme, self.px())
    }

    fn muted(&self) -> TextStyle<'static> {
        with_color(&self.font(), self.theme.muted)
    }

    fn line_h(&self) -> i32 {
        (self.px() * 1.5).round() as i32
    }

    /// The plot's builder on `area`, with the margins every live chart uses: a y-label column
    /// `label_w` wide, one line for the x labels, and `margin_right` for what the right edge
    /// holds (a last tick label, a "now").
    fn plot<'a, 'b, DB: DrawingBackend>(
        &self,
        area: &'a DrawingArea<DB, Shift>,
        label_w: i32,
        margin_right: i32,
    ) -> ChartBuilder<'a, 'b, DB> {
        let line_h = self.line_h();
        let mut builder = ChartBuilder::on(area);
        builder
            .margin_left(4)
            .margin_right(margin_right)
            .margin_top(line_h / 2)
            .x_label_area_size(line_h + 4)
            .y_label_area_size(label_w);
        builder
    }
}

/// Fills the chart, writes the caption row (the unit on the left, `note` on the right) and the
/// legend at the bottom (wrapped to the width), and returns the area between them.
fn frame<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    view: &View,
    unit: &str,
    note: &str,
    legend: &[(&str, RGBColor)],
) -> DrawResult<DrawingArea<DB, Shift>, DB> {
    root.fill(&view.theme.background)?;
    let (w, h) = root.dim_in_pixel();
    let line_h = view.line_h();
    let mid = line_h / 2;
    root.draw(&Text::new(unit.to_owned(), (4, mid), view.muted().pos(Pos::new(HPos::Left, VPos::Center))))?;
    let unit_w = root.estimate_text_size(unit, &view.muted())?.0 as i32;
    let note = fit_text(root, note, &view.muted(), w as i32 - unit_w - 24)?;
    if !note.is_empty() {
        let style = view.muted().pos(Pos::new(HPos::Right, VPos::Center));
        root.draw(&Text::new(note, (w as i32 - 6, mid), style))?;
    }
    let lines = if legend.is_empty() { 0 } else { legend_lines(root, &view.font(), legend)? as i32 };
    let legend_h = if lines > 0 { lines * line_h + line_h / 3 } else { 0 };
    let bottom = (h as i32 - legend_h).max(line_h + 1);
    draw_legend(root, &view.font(), bottom + line_h / 3 + mid - line_h / 6, line_h, legend)?;
    let (_, below_caption) = root.split_vertically(line_h);
    let (plot, _) = below_caption.split_vertically(bottom - line_h);
    Ok(plot)
}

/// `text`, cut short with "…" to fit `max_w` pixels; empty if not even a few letters fit.
fn fit_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle<'static>,
    max_w: i32,
) -> DrawResult<String, DB> {
    let chars: Vec<char> = text.chars().collect();
    for keep in (4..=chars.len()).rev() {
        let candidate: String =
            if keep == chars.len() { text.to_owned() } else { chars[..keep].iter().collect::<String>() + "…" };
        if area.estimate_text_size(&candidate, style)?.0 as i32 <= max_w {
            return Ok(candidate);
        }
    }
    Ok(String::new())
}

fn no_data<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, view: &View, why: &str) -> DrawResult<(), DB> {
    let (w, h) = area.dim_in_pixel();
    let style = view.muted().pos(Pos::new(HPos::Center, VPos::Center));
    area.draw(&Text::new(why.to_owned(), ((w / 2) as i32, (h / 2) as i32), style))
}

/// Tick counts that leave room for their labels: `span` pixels, one label per `per` pixels.
fn ticks(span: u32, per: i32) -> usize {
    (span as i32 / per.max(1)).clamp(2, 10) as usize
}

/// Generation and prompt tok/s per turn since the last model load (grouped bars), the answer in
/// flight included.
pub fn tok_s(d: &ChartData, view: &View) -> Result<String, ChartError> {
    let shown: Vec<_> = d.turns.iter().rev().take(TURNS_SHOWN).rev().collect();
    let mut bars: Vec<(String, Option<f64>, Option<f64>)> =
        shown.iter().map(|t| (format!("#{}", t.turn), t.gen_tok_s, t.prompt_tok_s)).collect();
    if let Some(live) = d.live {
        bars.push((format!("#{} now", live.turn), live.gen_tok_s, None));
    }
    let theme = view.theme;
    let (gen_color, prompt_color) = (theme.series[0], theme.series[1]);
    let note = d.load.as_ref().map(|l| l.text()).unwrap_or_default();
    svg_string("tok/s", view.size, |root| {
        let legend = [("generation", gen_color), ("prompt", prompt_color)];
        let area = frame(root, view, "tok/s", &note, if bars.is_empty() { &[] } else { &legend })?;
        if bars.is_empty() {
            return no_data(&area, view, "no answers yet");
        }
        let max = bars.iter().flat_map(|(_, g, p)| [*g, *p]).flatten().filter(|v| v.is_finite()).fold(0.0f64, f64::max);
        let top = nice_ceiling((max * 1.1).max(10.0));
        let n = bars.len();
        // At least five slots, so one or two turns are bars, not blocks.
        let slots = n.max(5);
        let label_w = area.estimate_text_size(&tick_label(top), &view.font())?.0 as i32 + 10;
        let (w, h) = area.dim_in_pixel();
        let line_h = view.line_h();
        let mut chart = view
            .plot(&area, label_w, 10)
            .build_cartesian_2d(0.0..slots as f64, 0.0..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .bold_line_style(theme.grid)
            .light_line_style(theme.background)
            .axis_style(theme.muted)
            .max_light_lines(0)
            .x_labels(0)
            .y_labels(ticks(h, line_h * 2))
            .y_label_formatter(&|v| tick_label(*v))
            .y_label_style(view.font())
            .draw()?;
        // A turn label under every k-th bar, so narrow charts do not overlap them.
        let widest = bars
            .iter()
            .map(|(l, ..)| area.estimate_text_size(l, &view.font()).map(|(w, _)| w as i32))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .max()
            .unwrap_or(0);
        let slot = (w as i32 - label_w - 14) / slots as i32;
        let every = ((widest + 6) / slot.max(1) + 1) as usize;
        let below = view.font().pos(Pos::new(HPos::Center, VPos::Top));
        for (i, (label, g, p)) in bars.iter().enumerate() {
            let x = i as f64;
            if (n - 1 - i) % every == 0 {
                let (px, py) = chart.backend_coord(&(x + 0.5, 0.0));
                root.draw(&Text::new(label.clone(), (px, py + 4), below.clone()))?;
            }
            for (value, offset, color) in [(g, 0.12, gen_color), (p, 0.5, prompt_color)] {
                if let Some(v) = value.filter(|v| v.is_finite() && *v >= 0.0) {
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(x + offset, 0.0), (x + offset + 0.38, v.min(top))],
                        color.filled(),
                    )))?;
                }
            }
        }
        Ok(())
    })
}

/// voxdeck's RAM (and, with a GPU, VRAM) and the whole system's use over the last two minutes,
/// on the device's total memory (MemTotal: unified memory on a Jetson), with the headroom the
/// memory check keeps free, the budget it would give the next load, and the models' share.
pub fn memory(d: &ChartData, view: &View) -> Result<String, ChartError> {
    let gib = |b: u64| b as f64 / GIB;
    let points: Vec<(f64, f64)> = d.memory.iter().map(|m| (m.t_s - d.now_s, gib(m.ram_bytes))).collect();
    let vram: Vec<(f64, f64)> =
        d.memory.iter().filter_map(|m| m.vram_bytes.map(|v| (m.t_s - d.now_s, gib(v)))).collect();
    let system: Vec<(f64, f64)> =
        d.memory.iter().filter_map(|m| m.system_used_bytes.map(|v| (m.t_s - d.now_s, gib(v)))).collect();
    let share = d.model_share.map(gib);
    let total = d.scale.total_bytes.map(gib);
    let headroom_line = d.scale.total_bytes.map(|t| gib(t.saturating_sub(d.scale.config.headroom_mb << 20)));
    let budget_line = budget_line(d).map(gib);
    let theme = view.theme;
    let (ram_color, share_color, vram_color) = (theme.series[0], theme.series[1], theme.series[2]);
    let headroom_color = verdict_color(Verdict::Unusable);
    let budget_color = verdict_color(Verdict::Acceptable);
    let headroom_label = format!("headroom {}", crate::memory_fit::format_bytes(d.scale.config.headroom_mb << 20));
    let note = total.map(|t| format!("of {} GiB", tick_label((t * 10.0).round() / 10.0))).unwrap_or_default();
    svg_string("memory", view.size, |root| {
        let mut items: Vec<(&str, RGBColor)> = vec![(RAM_LABEL, ram_color)];
        if let (Some(label), false) = (d.vram_label.as_deref(), vram.is_empty()) {
            items.push((label, vram_color));
        }
        if !system.is_empty() {
            items.push(("system", theme.muted));
        }
        if share.is_some() {
            items.push(("models", share_color));
        }
        if headroom_line.is_some() {
            items.push((&headroom_label, headroom_color));
        }
        if budget_line.is_some() {
            items.push(("load budget", budget_color));
        }
        let area = frame(root, view, "GiB", &note, if points.is_empty() { &[] } else { &items })?;
        if points.is_empty() {
            return no_data(&area, view, "no samples yet");
        }
        let highest = points.iter().chain(&vram).chain(&system).map(|p| p.1).chain(share).fold(0.0f64, f64::max);
        // The device's whole memory where known, so the lines show how much is left.
        let top = total.unwrap_or_else(|| nice_ceiling(highest * 1.2)).max(highest).max(0.1);
        let label_w = area.estimate_text_size(&tick_label(nice_ceiling(top)), &view.font())?.0 as i32 + 10;
        let (w, h) = area.dim_in_pixel();
        let line_h = view.line_h();
        let mut chart = view
            .plot(&area, label_w, 18)
            .build_cartesian_2d(-MEMORY_WINDOW_S..0.0, 0.0..top)?;
        chart
            .configure_mesh()
            .bold_line_style(theme.grid)
            .light_line_style(theme.background)
            .axis_style(theme.muted)
            .max_light_lines(0)
            .x_labels(ticks(w, 56))
            .y_labels(ticks(h, line_h * 2))
            .x_label_style(view.font())
            .y_label_style(view.font())
            .x_label_formatter(&|x| if *x == 0.0 { "now".into() } else { format!("{}s", tick_label(x.abs())) })
            .y_label_formatter(&|v| tick_label(*v))
            .draw()?;
        if let Some(share) = share {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(-MEMORY_WINDOW_S, 0.0), (0.0, share.min(top))],
                share_color.mix(0.18).filled(),
            )))?;
        }
        if let Some(line) = headroom_line {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(-MEMORY_WINDOW_S, line), (0.0, top)],
                headroom_color.mix(theme.band_alpha).filled(),
            )))?;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(-MEMORY_WINDOW_S, line), (0.0, line)],
                headroom_color.stroke_width(1),
            )))?;
        }
        if let Some(line) = budget_line.filter(|l| *l <= top) {
            chart.draw_series(DashedLineSeries::new(
                [(-MEMORY_WINDOW_S, line), (0.0, line)],
                6,
                4,
                budget_color.stroke_width(2),
            ))?;
        }
        chart.draw_series(LineSeries::new(system.iter().copied(), theme.muted.stroke_width(1)))?;
        if items.iter().any(|(_, c)| *c == vram_color) {
            chart.draw_series(LineSeries::new(vram.iter().copied(), vram_color.stroke_width(2)))?;
        }
        chart.draw_series(LineSeries::new(points.iter().copied(), ram_color.stroke_width(2)))?;
        Ok(())
    })
}

/// How high voxdeck's memory may grow before the memory check refuses a load: what it holds
/// now plus what the check's budget ([`crate::memory_fit::Budget::free_for_model`]) leaves.
pub fn budget_line(d: &ChartData) -> Option<u64> {
    let budget = d.scale.budget()?;
    let ours = d.memory.back()?.ram_bytes;
    Some(ours.saturating_add(budget.free_for_model()))
}

/// Per turn since the last model load (newest at the bottom): release to transcript, first
/// token, first sentence, first audio and the first audible sample heard, in seconds over the
/// voice bands.
pub fn latency(d: &ChartData, view: &View) -> Result<String, ChartError> {
    let rows: Vec<_> = d.turns.iter().rev().take(6).collect();
    let t = &d.thresholds;
    let theme = view.theme;
    let stages = [
        ("transcript", theme.muted),
        ("1st token", theme.series[0]),
        ("1st sentence", theme.series[2]),
        ("1st audio", theme.series[3]),
        ("heard", theme.series[1]),
    ];
    let note = d.load.as_ref().map(|l| l.text()).unwrap_or_default();
    svg_string("latency", view.size, |root| {
        let area = frame(root, view, "s after release", &note, if rows.is_empty() { &[] } else { &stages })?;
        if rows.is_empty() {
            return no_data(&area, view, "no turns yet");
        }
        let longest = rows
            .iter()
            .filter_map(|r| r.first_audible_ms.or(r.first_audio_ms).or(r.first_sentence_ms).or(r.first_token_ms))
            .fold(0.0f64, f64::max)
            / 1000.0;
        let right = nice_ceiling((longest * 1.1).max(t.unusable_s * 1.15));
        let n = rows.len() as f64;
        let widest = rows
            .iter()
            .map(|r| area.estimate_text_size(&format!("#{}", r.turn), &view.font()).map(|(w, _)| w as i32))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .max()
            .unwrap_or(0);
        let (w, _) = area.dim_in_pixel();
        let mut chart = view
            .plot(&area, widest + 10, 12)
            .build_cartesian_2d(0.0..right, 0.0..n)?;
        for (from, to, verdict) in [
            (0.0, t.natural_s, Verdict::Natural),
            (t.natural_s, t.acceptable_s, Verdict::Acceptable),
            (t.acceptable_s, t.unusable_s, Verdict::Slow),
            (t.unusable_s, right, Verdict::Unusable),
        ] {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(from, 0.0), (to, n)],
                verdict_color(verdict).mix(theme.band_alpha).filled(),
            )))?;
        }
        chart
            .configure_mesh()
            .disable_y_mesh()
            .bold_line_style(theme.grid)
            .light_line_style(theme.background)
            .axis_style(theme.muted)
            .max_light_lines(0)
            .y_labels(0)
            .x_labels(ticks(w, 48))
            .x_label_style(view.font())
            .x_label_formatter(&|v| tick_label(*v))
            .draw()?;
        let left = view.font().pos(Pos::new(HPos::Right, VPos::Center));
        for (i, r) in rows.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(0.0, i as f64 + 0.5));
            root.draw(&Text::new(format!("#{}", r.turn), (px - 5, py), left.clone()))?;
            let y0 = i as f64 + 0.2;
            let y1 = i as f64 + 0.8;
            let mut from = 0.0;
            for (end, (_, color)) in
                [r.transcript_ms, r.first_token_ms, r.first_sentence_ms, r.first_audio_ms, r.first_audible_ms]
                    .into_iter()
                    .zip(stages)
            {
                let Some(end) = end.map(|ms| ms / 1000.0).filter(|v| v.is_finite() && *v >= from) else { continue };
                chart.draw_series(std::iter::once(Rectangle::new([(from, y0), (end.min(right), y1)], color.filled())))?;
                from = end;
            }
        }
        Ok(())
    })
}
