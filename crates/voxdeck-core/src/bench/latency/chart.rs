//! The latency chart: p50 bars with p90 whiskers for each milestone from release to the first
//! audible sample, one colour per summary (single turns and conversation turns 2+, streaming
//! and whole answers), over the 300 ms target. Drawn like the model bench's charts
//! ([`crate::chart_style`]): light for files, dark in the panel.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{LatencyReport, Stat};
use crate::chart_style::{
    ChartError, Scale, Theme, draw_bar_mesh, draw_header, draw_inline_legend, nice_ceiling, register_fonts, svg_string,
};

/// Size of the written chart, in pixels (the model bench's).
pub const SIZE: (u32, u32) = crate::bench::charts::CHART_SIZE;
/// The target: first audible sample within this many ms of the release (p50).
pub const TARGET_MS: f64 = 300.0;

/// The milestones drawn, in pipeline order (last audio is seconds later and would flatten them).
const MILESTONES: [(&str, &str); 5] = [
    ("transcript_ms", "transcript"),
    ("first_token_ms", "first token"),
    ("first_sentence_ms", "first sentence"),
    ("first_audio_ms", "first audio"),
    ("first_audible_ms", "first audible"),
];

/// Draws the chart into any plotters area, in `theme`.
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    report: &LatencyReport,
    theme: &Theme,
) -> DrawResult<(), DB> {
    let s = Scale::of(area);
    let subtitle = format!(
        "ms from release · bars p50, whiskers p90 · {} · {} cores · {}",
        report.config.llm,
        report.host.cores,
        report.host.cpu.trim()
    );
    let body = draw_header(area, theme, "Release to first audible word", &subtitle)?;
    let (legend_row, body) = body.split_vertically(s.px(26.0));
    let series: Vec<(String, RGBColor)> =
        report.summary.iter().enumerate().map(|(i, sm)| (sm.label(), theme.series[i % theme.series.len()])).collect();
    let items: Vec<(&str, RGBColor)> = series.iter().map(|(l, c)| (l.as_str(), *c)).collect();
    draw_inline_legend(&legend_row, theme, s, s.px(10.0), &items)?;

    let stat = |i: usize, key: &str| -> Stat { report.summary[i].stat(key) };
    let max = (0..report.summary.len())
        .flat_map(|i| MILESTONES.iter().map(move |(k, _)| (i, *k)))
        .filter_map(|(i, k)| stat(i, k).p90)
        .fold(TARGET_MS, f64::max);
    let y_max = nice_ceiling(max * 1.1);
    let slots = MILESTONES.len();
    let mut chart = ChartBuilder::on(&body)
        .margin_left(s.px(15.0))
        .margin_right(s.px(25.0))
        .margin_top(s.px(8.0))
        .margin_bottom(s.px(8.0))
        .x_label_area_size(s.px(34.0))
        .y_label_area_size(s.px(62.0))
        .build_cartesian_2d(0.0..slots as f64, 0.0..y_max)?;
    draw_bar_mesh(&mut chart, theme, s, "ms")?;

    // The target, behind the bars.
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(0.0, TARGET_MS), (slots as f64, TARGET_MS)],
        theme.muted.stroke_width(s.px(1.5).max(1) as u32),
    )))?;
    let note = s.text(theme, 13.0).color(&theme.muted).pos(Pos::new(HPos::Right, VPos::Bottom));
    chart.draw_series(std::iter::once(
        EmptyElement::at((slots as f64, TARGET_MS))
            + Text::new(format!("target {TARGET_MS:.0} ms"), (-s.px(4.0), -s.px(3.0)), note),
    ))?;

    let groups = report.summary.len().max(1);
    let bar = 0.8 / groups as f64;
    for (g, (_, color)) in series.iter().enumerate() {
        let x0 = move |slot: usize| slot as f64 + 0.1 + g as f64 * bar;
        let cells: Vec<(usize, Stat)> =
            MILESTONES.iter().enumerate().map(|(slot, (k, _))| (slot, stat(g, k))).collect();
        chart.draw_series(cells.iter().filter_map(|(slot, st)| {
            st.p50.map(|v| Rectangle::new([(x0(*slot) + bar * 0.08, 0.0), (x0(*slot) + bar * 0.92, v)], color.filled()))
        }))?;
        let whisker = theme.text.stroke_width(s.px(1.5).max(1) as u32);
        chart.draw_series(cells.iter().filter_map(|(slot, st)| {
            let (p50, p90) = (st.p50?, st.p90?);
            let mid = x0(*slot) + bar / 2.0;
            Some(PathElement::new(vec![(mid, p50), (mid, p90)], whisker))
        }))?;
        chart.draw_series(cells.iter().filter_map(|(slot, st)| {
            let p90 = st.p90?;
            let (a, b) = (x0(*slot) + bar * 0.3, x0(*slot) + bar * 0.7);
            Some(PathElement::new(vec![(a, p90), (b, p90)], whisker))
        }))?;
        // "-" where no turn had the milestone (first audible, until the sinks mark it).
        let na = s.text(theme, 13.0).color(&theme.muted).pos(Pos::new(HPos::Center, VPos::Bottom));
        chart.draw_series(cells.iter().filter(|(_, st)| st.n == 0).map(|(slot, _)| {
            EmptyElement::at((x0(*slot) + bar / 2.0, 0.0)) + Text::new("n/a", (0, -s.px(3.0)), na.clone())
        }))?;
    }

    // Milestone names under their bars.
    let name = s.text(theme, 15.0).pos(Pos::new(HPos::Center, VPos::Top));
    chart.draw_series(MILESTONES.iter().enumerate().map(|(slot, (_, label))| {
        EmptyElement::at((slot as f64 + 0.5, 0.0)) + Text::new(label.to_string(), (0, s.px(8.0)), name.clone())
    }))?;
    Ok(())
}

/// The chart as an SVG document in `theme` (the panel's dark one; files stay light).
pub fn svg(report: &LatencyReport, theme: &Theme) -> Result<String, ChartError> {
    svg_string("latency.svg", SIZE, |area| draw(area, report, theme))
}

/// Writes latency.png and latency.svg (light) into `out`; returns their paths.
pub fn write(report: &LatencyReport, out: &Path) -> Result<Vec<PathBuf>, ChartError> {
    register_fonts()?;
    let png = out.join("latency.png");
    let drawn = || -> DrawResult<(), BitMapBackend<'_>> {
        let root = BitMapBackend::new(&png, SIZE).into_drawing_area();
        draw(&root, report, &Theme::LIGHT)?;
        root.present()
    };
    drawn().map_err(|e| ChartError::Draw { path: png.clone(), message: e.to_string() })?;
    let svg_path = out.join("latency.svg");
    std::fs::write(&svg_path, svg(report, &Theme::LIGHT)?)
        .map_err(|source| ChartError::Write { path: svg_path.clone(), source })?;
    Ok(vec![png, svg_path])
}
