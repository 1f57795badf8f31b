//! The live charts, drawn with plotters into SVG strings in [`crate::chart_style`] (fonts,
//! colours, verdict bands), so the panel and the bench report look alike.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::chart_data::{ChartData, MEMORY_WINDOW_S, RAM_LABEL, TURNS_SHOWN};
use crate::chart_style::{ChartError, GEN_COLOR, GRID, MUTED, PROMPT_COLOR, Scale, draw_inline_legend, svg_string, verdict_color};
use crate::voice_latency::Verdict;

/// Size of a live chart in pixels (the UI scales it to its column).
pub const LIVE_SIZE: (u32, u32) = (420, 260);

const STT_COLOR: RGBColor = RGBColor(108, 117, 125);
const TOKEN_COLOR: RGBColor = RGBColor(31, 119, 180);
const SENTENCE_COLOR: RGBColor = RGBColor(148, 103, 189);
const AUDIO_COLOR: RGBColor = RGBColor(23, 160, 180);
const MODEL_SHARE_COLOR: RGBColor = RGBColor(255, 127, 14);
/// The VRAM line: apart from RAM's blue and the models' orange.
const VRAM_COLOR: RGBColor = RGBColor(148, 103, 189);

fn no_data<DB: DrawingBackend>(area: &DrawingArea<DB, plotters::coord::Shift>, s: Scale, why: &str) -> DrawResult<(), DB> {
    let (w, h) = area.dim_in_pixel();
    let style = s.font(16.0).color(&MUTED).pos(Pos::new(HPos::Center, VPos::Center));
    area.draw(&Text::new(why.to_owned(), ((w / 2) as i32, (h / 2) as i32), style))
}

/// Generation and prompt tok/s per turn (grouped bars), the answer in flight included.
pub fn tok_s(d: &ChartData) -> Result<String, ChartError> {
    let shown: Vec<_> = d.turns.iter().rev().take(TURNS_SHOWN).rev().collect();
    let mut bars: Vec<(String, Option<f64>, Option<f64>)> =
        shown.iter().map(|t| (format!("#{}", t.turn), t.gen_tok_s, t.prompt_tok_s)).collect();
    if let Some(live) = d.live {
        bars.push((format!("#{} now", live.turn), live.gen_tok_s, None));
    }
    svg_string("tok/s", LIVE_SIZE, |root| {
        root.fill(&WHITE)?;
        let s = Scale(1.0);
        let (chart_area, legend) = root.split_vertically(LIVE_SIZE.1 - 30);
        if bars.is_empty() {
            return no_data(&chart_area, s, "no answers yet");
        }
        let top = bars
            .iter()
            .flat_map(|(_, g, p)| [*g, *p])
            .flatten()
            .filter(|v| v.is_finite())
            .fold(10.0f64, f64::max)
            * 1.15;
        let n = bars.len();
        let mut chart = ChartBuilder::on(&chart_area)
            .margin(10)
            .x_label_area_size(38)
            .y_label_area_size(48)
            .build_cartesian_2d(0.0..n as f64, 0.0..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(GRID)
            .max_light_lines(0)
            .x_labels(0)
            .y_label_style(s.font(14.0))
            .y_desc("tok/s")
            .draw()?;
        let below = s.font(14.0).pos(Pos::new(HPos::Center, VPos::Top));
        for (i, (label, g, p)) in bars.iter().enumerate() {
            let x = i as f64;
            let (px, py) = chart.as_coord_spec().translate(&(x + 0.5, 0.0));
            root.draw(&Text::new(label.clone(), (px, py + 6), below.clone()))?;
            for (value, offset, color) in [(g, 0.12, GEN_COLOR), (p, 0.5, PROMPT_COLOR)] {
                if let Some(v) = value.filter(|v| v.is_finite() && *v >= 0.0) {
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(x + offset, 0.0), (x + offset + 0.38, v)],
                        color.filled(),
                    )))?;
                }
            }
        }
        draw_inline_legend(&legend, Scale(0.8), 15, &[("generation", GEN_COLOR), ("prompt", PROMPT_COLOR)])
    })
}

/// voxdeck's RAM and (with a GPU) VRAM over the last two minutes, each labelled with where its
/// number comes from, with the models' share shaded.
pub fn memory(d: &ChartData) -> Result<String, ChartError> {
    const MIB: f64 = 1024.0 * 1024.0;
    let points: Vec<(f64, f64)> =
        d.memory.iter().map(|m| (m.t_s - d.now_s, m.ram_bytes as f64 / MIB)).collect();
    let vram: Vec<(f64, f64)> = d
        .memory
        .iter()
        .filter_map(|m| m.vram_bytes.map(|v| (m.t_s - d.now_s, v as f64 / MIB)))
        .collect();
    let share = d.model_share.map(|b| b as f64 / MIB);
    svg_string("memory", LIVE_SIZE, |root| {
        root.fill(&WHITE)?;
        let s = Scale(1.0);
        let (chart_area, legend) = root.split_vertically(LIVE_SIZE.1 - 30);
        if points.is_empty() {
            return no_data(&chart_area, s, "no samples yet");
        }
        let top = points.iter().chain(&vram).map(|p| p.1).chain(share).fold(64.0f64, f64::max) * 1.2;
        let mut chart = ChartBuilder::on(&chart_area)
            .margin(10)
            .x_label_area_size(38)
            .y_label_area_size(56)
            .build_cartesian_2d(-MEMORY_WINDOW_S..0.0, 0.0..top)?;
        chart
            .configure_mesh()
            .light_line_style(GRID)
            .max_light_lines(0)
            .x_label_style(s.font(14.0))
            .y_label_style(s.font(14.0))
            .x_desc("seconds ago")
            .y_desc("MiB")
            .x_label_formatter(&|x| format!("{:.0}", x.abs()))
            .draw()?;
        if let Some(share) = share {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(-MEMORY_WINDOW_S, 0.0), (0.0, share)],
                MODEL_SHARE_COLOR.mix(0.18).filled(),
            )))?;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(-MEMORY_WINDOW_S, share), (0.0, share)],
                MODEL_SHARE_COLOR.stroke_width(1),
            )))?;
        }
        chart.draw_series(LineSeries::new(points.iter().copied(), GEN_COLOR.stroke_width(2)))?;
        let mut items = vec![(RAM_LABEL, GEN_COLOR)];
        if let (Some(label), false) = (d.vram_label.as_deref(), vram.is_empty()) {
            chart.draw_series(LineSeries::new(vram.iter().copied(), VRAM_COLOR.stroke_width(2)))?;
            items.push((label, VRAM_COLOR));
        }
        if share.is_some() {
            items.push(("models (added at load)", MODEL_SHARE_COLOR));
        }
        draw_inline_legend(&legend, Scale(0.8), 15, &items)
    })
}

/// Per turn (newest at the bottom): release to transcript, first token, first sentence and first
/// audio, over the 2 s / 3 s / 4 s voice bands.
pub fn latency(d: &ChartData) -> Result<String, ChartError> {
    let rows: Vec<_> = d.turns.iter().rev().take(6).collect();
    let t = &d.thresholds;
    svg_string("latency", LIVE_SIZE, |root| {
        root.fill(&WHITE)?;
        let s = Scale(1.0);
        let (chart_area, legend) = root.split_vertically(LIVE_SIZE.1 - 30);
        if rows.is_empty() {
            return no_data(&chart_area, s, "no turns yet");
        }
        let longest = rows
            .iter()
            .filter_map(|r| r.first_audio_ms.or(r.first_sentence_ms).or(r.first_token_ms))
            .fold(0.0f64, f64::max)
            / 1000.0;
        let right = (longest * 1.1).max(t.unusable_s * 1.15);
        let n = rows.len() as f64;
        let mut chart = ChartBuilder::on(&chart_area)
            .margin(10)
            .x_label_area_size(38)
            .y_label_area_size(40)
            .build_cartesian_2d(0.0..right, 0.0..n)?;
        for (from, to, verdict) in [
            (0.0, t.natural_s, Verdict::Natural),
            (t.natural_s, t.acceptable_s, Verdict::Acceptable),
            (t.acceptable_s, t.unusable_s, Verdict::Slow),
            (t.unusable_s, right, Verdict::Unusable),
        ] {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(from, 0.0), (to, n)],
                verdict_color(verdict).mix(0.10).filled(),
            )))?;
        }
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(GRID)
            .max_light_lines(0)
            .y_labels(0)
            .x_label_style(s.font(14.0))
            .y_label_style(s.font(14.0))
            .x_desc("seconds after release")
            .draw()?;
        let left = s.font(14.0).pos(Pos::new(HPos::Right, VPos::Center));
        for (i, r) in rows.iter().enumerate() {
            let (px, py) = chart.as_coord_spec().translate(&(0.0, i as f64 + 0.5));
            root.draw(&Text::new(format!("#{}", r.turn), (px - 6, py), left.clone()))?;
            let y0 = i as f64 + 0.2;
            let y1 = i as f64 + 0.8;
            let mut from = 0.0;
            for (end, color) in [
                (r.transcript_ms, STT_COLOR),
                (r.first_token_ms, TOKEN_COLOR),
                (r.first_sentence_ms, SENTENCE_COLOR),
                (r.first_audio_ms, AUDIO_COLOR),
            ] {
                let Some(end) = end.map(|ms| ms / 1000.0).filter(|v| v.is_finite() && *v >= from) else { continue };
                chart.draw_series(std::iter::once(Rectangle::new([(from, y0), (end, y1)], color.filled())))?;
                from = end;
            }
        }
        draw_inline_legend(
            &legend,
            Scale(0.8),
            15,
            &[
                ("transcript", STT_COLOR),
                ("1st token", TOKEN_COLOR),
                ("1st sentence", SENTENCE_COLOR),
                ("1st audio", AUDIO_COLOR),
            ],
        )
    })
}
