//! The bench charts (PNG and SVG, drawn with plotters).
//!
//! [`write_charts`] writes two charts, each as PNG and SVG:
//!
//! - `tok_s`: generation and prompt-processing rate per model, grouped bars with value labels;
//! - `response_time`: time from the question to the Nth generated token, one line per model,
//!   over the voice budget's natural / acceptable / slow / unusable bands.
//!
//! The drawing is backend-agnostic: [`Chart::draw`] draws into any plotters [`DrawingArea`] and
//! scales its fonts and margins to the area, and [`Chart::svg`] renders it to an SVG string, so
//! the desktop UI can show these charts without touching files. The look (font, colours, header,
//! legend) is [`crate::chart_style`]'s, shared with the panel's live charts.
//!
//! Broken numbers (NaN, infinite, negative) are left out of a chart, never drawn at nonsense
//! coordinates; a bar without a value is labelled "n/a". An empty model list is not an error:
//! every file is still written and each chart says "no data", so `voxdeck bench` always leaves the
//! same set of files behind.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{BenchReport, ModelBench};
use crate::chart_style::{
    ChartError, Scale, Theme, draw_bar_mesh, draw_header, draw_inline_legend, model_color, nice_ceiling, register_fonts,
    svg_string,
    tick_label, verdict_color, with_color,
};
use crate::voice_latency::{Verdict, VoiceThresholds};

/// Size of the written charts, in pixels.
pub const CHART_SIZE: (u32, u32) = (1000, 600);

/// The charts of a [`BenchReport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chart {
    /// Generation and prompt tok/s per model, grouped bars.
    TokS,
    /// Response time by answer length per model, over the voice budget bands.
    ResponseTime,
}

impl Chart {
    pub const ALL: [Chart; 2] = [Chart::TokS, Chart::ResponseTime];

    /// File name without extension: `tok_s`, `response_time`.
    pub fn file_stem(self) -> &'static str {
        match self {
            Chart::TokS => "tok_s",
            Chart::ResponseTime => "response_time",
        }
    }

    /// Draws the chart into any plotters area (fills it; fonts and margins scale with its size),
    /// in the light theme of files and reports. Call [`register_fonts`] first.
    pub fn draw<DB: DrawingBackend>(
        self,
        area: &DrawingArea<DB, Shift>,
        report: &BenchReport,
    ) -> DrawResult<(), DB> {
        self.draw_themed(area, report, &Theme::LIGHT)
    }

    /// [`Chart::draw`] in another theme.
    pub fn draw_themed<DB: DrawingBackend>(
        self,
        area: &DrawingArea<DB, Shift>,
        report: &BenchReport,
        theme: &Theme,
    ) -> DrawResult<(), DB> {
        match self {
            Chart::TokS => draw_tok_s(area, report, theme),
            Chart::ResponseTime => draw_response_time(area, report, theme),
        }
    }

    /// The chart as an SVG document in `theme` (the panel's dark one; files stay light).
    pub fn svg(self, report: &BenchReport, size: (u32, u32), theme: &Theme) -> Result<String, ChartError> {
        svg_string(&format!("{}.svg", self.file_stem()), size, |area| {
            self.draw_themed(area, report, theme)
        })
    }

    /// Writes the chart as an SVG file.
    pub fn write_svg(
        self,
        report: &BenchReport,
        path: &Path,
        size: (u32, u32),
    ) -> Result<(), ChartError> {
        let svg = svg_string(&path.to_string_lossy(), size, |area| {
            self.draw(area, report)
        })?;
        std::fs::write(path, svg).map_err(|source| ChartError::Write {
            path: path.to_owned(),
            source,
        })
    }

    /// Writes the chart as a PNG file (the format follows the extension).
    pub fn write_png(
        self,
        report: &BenchReport,
        path: &Path,
        size: (u32, u32),
    ) -> Result<(), ChartError> {
        register_fonts()?;
        let draw = || -> DrawResult<(), BitMapBackend<'_>> {
            let root = BitMapBackend::new(path, size).into_drawing_area();
            self.draw(&root, report)?;
            root.present()
        };
        draw().map_err(|e| ChartError::Draw {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }
}

/// Writes `tok_s.png`, `tok_s.svg`, `response_time.png` and `response_time.svg` into `out_dir`
/// (created if missing) at [`CHART_SIZE`], and returns their paths in that order. An empty model
/// list writes the same files, each chart saying "no data".
pub fn write_charts(report: &BenchReport, out_dir: &Path) -> Result<Vec<PathBuf>, ChartError> {
    register_fonts()?;
    std::fs::create_dir_all(out_dir).map_err(|source| ChartError::CreateDir {
        path: out_dir.to_owned(),
        source,
    })?;
    let mut written = Vec::with_capacity(4);
    for chart in Chart::ALL {
        let png = out_dir.join(format!("{}.png", chart.file_stem()));
        chart.write_png(report, &png, CHART_SIZE)?;
        written.push(png);
        let svg = out_dir.join(format!("{}.svg", chart.file_stem()));
        chart.write_svg(report, &svg, CHART_SIZE)?;
        written.push(svg);
    }
    Ok(written)
}

/// The tok/s chart as an SVG string, at [`CHART_SIZE`], in `theme`.
pub fn tok_s_svg(report: &BenchReport, theme: &Theme) -> Result<String, ChartError> {
    Chart::TokS.svg(report, CHART_SIZE, theme)
}

/// The response-time chart as an SVG string, at [`CHART_SIZE`], in `theme`.
pub fn response_time_svg(report: &BenchReport, theme: &Theme) -> Result<String, ChartError> {
    Chart::ResponseTime.svg(report, CHART_SIZE, theme)
}

/// A finite, non-negative value.
fn valid(v: f64) -> Option<f64> {
    (v.is_finite() && v >= 0.0).then_some(v)
}

/// "no data" (and why) centred on a chart's plotting area.
fn draw_no_data<DB: DrawingBackend>(
    chart: &ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    why: &str,
    s: Scale,
    theme: &Theme,
) -> DrawResult<(), DB> {
    let area = chart.plotting_area().strip_coord_spec();
    let (w, h) = area.dim_in_pixel();
    let (cx, cy) = ((w / 2) as i32, (h / 2) as i32);
    let text = format!("no data: {why}");
    let style = with_color(&s.text(theme, 22.0), theme.muted).pos(Pos::new(HPos::Center, VPos::Center));
    let (tw, th) = area.estimate_text_size(&text, &style)?;
    let (hw, hh) = (tw as i32 / 2 + s.px(16.0), th as i32 / 2 + s.px(10.0));
    area.draw(&Rectangle::new(
        [(cx - hw, cy - hh), (cx + hw, cy + hh)],
        theme.background.filled(),
    ))?;
    area.draw(&Rectangle::new(
        [(cx - hw, cy - hh), (cx + hw, cy + hh)],
        theme.grid.stroke_width(1),
    ))?;
    area.draw(&Text::new(text, (cx, cy - s.px(3.0)), style))
}

/// `text` split and/or shortened to at most two lines no wider than `max_w` pixels.
fn fit_label<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    max_w: i32,
    style: &TextStyle,
) -> DrawResult<Vec<String>, DB> {
    let width = |t: &str| area.estimate_text_size(t, style).map(|(w, _)| w as i32);
    let text = text.trim();
    if width(text)? <= max_w {
        return Ok(vec![text.to_owned()]);
    }
    let shorten = |t: &str| -> DrawResult<String, DB> {
        let chars: Vec<char> = t.chars().collect();
        for keep in (1..chars.len()).rev() {
            let candidate: String = chars[..keep].iter().collect::<String>() + "…";
            if width(&candidate)? <= max_w {
                return Ok(candidate);
            }
        }
        Ok("…".to_owned())
    };
    // Break at the space (or - _) nearest the middle.
    let mid = text.len() / 2;
    let split = text
        .char_indices()
        .filter(|(_, c)| matches!(c, ' ' | '-' | '_'))
        .min_by_key(|(i, _)| i.abs_diff(mid));
    match split {
        Some((i, c)) => {
            let (first, second) = if c == ' ' {
                (&text[..i], &text[i + 1..])
            } else {
                (&text[..=i], &text[i + c.len_utf8()..])
            };
            let mut lines = Vec::with_capacity(2);
            for line in [first.trim(), second.trim()] {
                lines.push(if width(line)? <= max_w {
                    line.to_owned()
                } else {
                    shorten(line)?
                });
            }
            Ok(lines)
        }
        None => Ok(vec![shorten(text)?]),
    }
}

// ---------------------------------------------------------------------------------------------
// tok/s: grouped bars.

fn draw_tok_s<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    report: &BenchReport,
    theme: &Theme,
) -> DrawResult<(), DB> {
    type Metric = (&'static str, RGBColor, fn(&ModelBench) -> f64);
    let metrics: [Metric; 2] = [
        ("generation", theme.series[0], |m| m.gen_tok_s),
        ("prompt processing", theme.series[1], |m| m.prompt_tok_s),
    ];

    let s = Scale::of(area);
    let settings = &report.settings;
    let subtitle = format!(
        "tokens per second, median of {} runs · prompt of {} tokens · {}{}",
        settings.runs,
        settings.prompt_tokens,
        report.host.cpu.trim(),
        if report.host.gpu_offload {
            " · GPU offload"
        } else {
            " · CPU only"
        },
    );
    let body = draw_header(area, theme, "Generation and prompt speed", &subtitle)?;
    let models = &report.models;
    let slots = models.len().max(1);
    let (legend_row, body) = body.split_vertically(s.px(26.0));
    if !models.is_empty() {
        let items = metrics.map(|(label, color, _)| (label, color));
        draw_inline_legend(&legend_row, theme, s, s.px(10.0), &items)?;
    }

    let max = models
        .iter()
        .flat_map(|m| metrics.map(|(_, _, get)| get(m)))
        .filter_map(valid)
        .fold(0.0, f64::max);
    let y_max = nice_ceiling(if max > 0.0 { max * 1.12 } else { 1.0 });

    // Names under the bars, at most two lines each, plus a verdict line.
    let (body_w, _) = body.dim_in_pixel();
    let y_label_w = s.px(62.0);
    let slot_px = (body_w as i32 - y_label_w - s.px(40.0)) / slots as i32;
    let name_style = s.text(theme, 15.0);
    let names: Vec<Vec<String>> = models
        .iter()
        .map(|m| fit_label(&body, &m.name, slot_px - s.px(8.0), &name_style))
        .collect::<Result<_, _>>()?;
    let name_lines = names.iter().map(Vec::len).max().unwrap_or(1) as i32;
    let line_h = s.px(19.0);

    let mut chart = ChartBuilder::on(&body)
        .margin_left(s.px(15.0))
        .margin_right(s.px(25.0))
        .margin_top(s.px(8.0))
        .margin_bottom(s.px(8.0))
        .x_label_area_size(s.px(14.0) + line_h * (name_lines + 1))
        .y_label_area_size(y_label_w)
        .build_cartesian_2d(0.0..slots as f64, 0.0..y_max)?;
    draw_bar_mesh(&mut chart, theme, s, "tokens / s")?;

    // Bars: at most ~35 % of a slot each, and never wider than 110 px.
    let plot_w = chart.plotting_area().dim_in_pixel().0.max(1) as f64;
    let slot_w_px = plot_w / slots as f64;
    let bar = (0.35f64).min(s.0 * 110.0 / slot_w_px);
    let gap = 0.02;
    let value_style = s.text(theme, 14.0).pos(Pos::new(HPos::Center, VPos::Bottom));
    for (k, (_, color, get)) in metrics.into_iter().enumerate() {
        let x0 = move |i: usize| i as f64 + 0.5 - bar - gap / 2.0 + k as f64 * (bar + gap);
        chart.draw_series(models.iter().enumerate().filter_map(|(i, m)| {
            valid(get(m)).map(|v| Rectangle::new([(x0(i), 0.0), (x0(i) + bar, v)], color.filled()))
        }))?;
        chart.draw_series(models.iter().enumerate().map(|(i, m)| {
            let (y, text) = match valid(get(m)) {
                Some(v) => (v, format!("{v:.1}")),
                None => (0.0, "n/a".to_owned()),
            };
            EmptyElement::at((x0(i) + bar / 2.0, y))
                + Text::new(text, (0, -s.px(4.0)), value_style.clone())
        }))?;
    }

    // Model names and verdicts under their pair of bars.
    let screen = body.use_screen_coord();
    let center_top = Pos::new(HPos::Center, VPos::Top);
    for (i, (m, lines)) in models.iter().zip(&names).enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
        let mut y = y + s.px(10.0);
        for line in lines {
            screen.draw(&Text::new(line.clone(), (x, y), name_style.pos(center_top)))?;
            y += line_h;
        }
        let recommended = report.recommended.as_deref() == Some(m.name.as_str());
        let verdict = format!(
            "{}{}",
            m.verdict,
            if recommended { " · recommended" } else { "" }
        );
        let style = with_color(&s.text(theme, 13.0), verdict_color(m.verdict)).pos(center_top);
        screen.draw(&Text::new(verdict, (x, y), style))?;
    }

    if models.is_empty() {
        draw_no_data(&chart, "no models measured", s, theme)?;
    } else if max <= 0.0 {
        draw_no_data(&chart, "no valid speeds", s, theme)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Response time: lines over the voice budget bands.

/// The thresholds if usable for bands: finite, positive, in order.
fn valid_thresholds(t: &VoiceThresholds) -> Option<(f64, f64, f64)> {
    let (n, a, u) = (t.natural_s, t.acceptable_s, t.unusable_s);
    let ok = [n, a, u].iter().all(|v| v.is_finite() && *v > 0.0) && n <= a && a <= u;
    ok.then_some((n, a, u))
}

/// (verdict, lower, upper, label) of each voice budget band up to `top` seconds.
fn budget_bands(t: &VoiceThresholds, top: f64) -> Vec<(Verdict, f64, f64, String)> {
    let Some((n, a, u)) = valid_thresholds(t) else {
        return Vec::new();
    };
    [
        (Verdict::Natural, 0.0, n, format!("natural < {n} s")),
        (Verdict::Acceptable, n, a, format!("acceptable < {a} s")),
        (Verdict::Slow, a, u, format!("slow {a}–{u} s")),
        (Verdict::Unusable, u, top, format!("unusable > {u} s")),
    ]
    .into_iter()
    .filter(|(_, lo, hi, _)| hi > lo && *lo < top)
    .map(|(v, lo, hi, label)| (v, lo, hi.min(top), label))
    .collect()
}

/// A model's (tokens, seconds) points: TTFT at token 1, then every measured response time.
fn response_points(m: &ModelBench) -> Vec<(f64, f64)> {
    let mut points: Vec<(f64, f64)> = m
        .response_s
        .iter()
        .filter_map(|(k, &v)| Some((f64::from(k.trim().parse::<u32>().ok()?), valid(v)?)))
        .collect();
    let has_first = points.iter().any(|(x, _)| *x <= 1.0);
    if let Some(ttft) = valid(m.ttft_s).filter(|t| *t > 0.0 && !has_first) {
        points.push((1.0, ttft));
    }
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    points
}

fn draw_response_time<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    report: &BenchReport,
    theme: &Theme,
) -> DrawResult<(), DB> {
    let s = Scale::of(area);
    let settings = &report.settings;
    let t = &settings.thresholds;
    let subtitle = format!(
        "seconds from the question to the Nth generated token, median of {} runs · verdict at {} tokens",
        settings.runs, settings.verdict_tokens
    );
    let body = draw_header(area, theme, "Response time by answer length", &subtitle)?;
    let series: Vec<(&ModelBench, Vec<(f64, f64)>)> = report
        .models
        .iter()
        .map(|m| (m, response_points(m)))
        .collect();

    let x_data = series.iter().flat_map(|(_, p)| p.iter().map(|(x, _)| *x));
    let x_cfg = settings.response_tokens.iter().map(|&n| f64::from(n));
    let x_max = x_data.chain(x_cfg).fold(0.0, f64::max);
    let x_max = if x_max > 0.0 { x_max * 1.06 } else { 100.0 };
    let y_data = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(_, y)| *y))
        .fold(0.0, f64::max);
    let y_budget = valid_thresholds(t).map_or(0.0, |(_, _, u)| u * 1.3);
    let y_max = y_data.max(y_budget);
    let y_max = if y_max > 0.0 { y_max * 1.08 } else { 5.0 };

    let label_w = s.px(150.0);
    let mut chart = ChartBuilder::on(&body)
        .margin_left(s.px(15.0))
        .margin_right(label_w)
        .margin_top(s.px(24.0))
        .margin_bottom(s.px(8.0))
        .x_label_area_size(s.px(55.0))
        .y_label_area_size(s.px(62.0))
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)?;

    // Bands first, so the grid and lines go on top.
    let bands = budget_bands(t, y_max);
    chart.draw_series(bands.iter().map(|(v, lo, hi, _)| {
        Rectangle::new(
            [(0.0, *lo), (x_max, *hi)],
            verdict_color(*v).mix(theme.band_alpha + 0.02).filled(),
        )
    }))?;

    chart
        .configure_mesh()
        .x_desc("generated tokens")
        .y_desc("seconds")
        .x_labels(10)
        .y_labels(10)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| tick_label(*v))
        .label_style(s.text(theme, 14.0))
        .axis_desc_style(s.text(theme, 15.0))
        .bold_line_style(theme.grid.mix(0.8))
        .light_line_style(TRANSPARENT)
        .axis_style(theme.muted)
        .draw()?;

    // Threshold lines at the upper edge of every band but the last.
    for (v, _, hi, _) in bands.iter().filter(|(v, ..)| *v != Verdict::Unusable) {
        chart.draw_series(DashedLineSeries::new(
            [(0.0, *hi), (x_max, *hi)],
            s.px(8.0),
            s.px(5.0),
            verdict_color(next_worse(*v)).stroke_width(s.px(2.0).max(1) as u32),
        ))?;
    }

    // The verdict length: a faint vertical line, labelled above the plot.
    let screen = body.use_screen_coord();
    let (plot_x, plot_y) = chart.plotting_area().get_pixel_range();
    let vt = f64::from(settings.verdict_tokens);
    if vt > 0.0 && vt <= x_max {
        chart.draw_series(DashedLineSeries::new(
            [(vt, 0.0), (vt, y_max)],
            s.px(4.0),
            s.px(4.0),
            theme.muted.stroke_width(1),
        ))?;
        let style = with_color(&s.text(theme, 13.0), theme.muted).pos(Pos::new(HPos::Center, VPos::Bottom));
        let x = chart.backend_coord(&(vt, 0.0)).0;
        let text = format!("verdict at {} tokens", settings.verdict_tokens);
        screen.draw(&Text::new(text, (x, plot_y.start - s.px(5.0)), style))?;
    }

    // One line with markers per model; the legend gives the time at the verdict length.
    let stroke = s.px(3.0).max(1) as u32;
    let marker = s.px(5.0).max(2) as u32;
    for (i, (m, points)) in series.iter().enumerate() {
        let color = model_color(i);
        let at_verdict = points.iter().find(|(x, _)| *x == vt).map(|(_, y)| *y);
        let label = match at_verdict {
            Some(y) => format!(
                "{}: {y:.1} s at {} tokens ({})",
                m.name, settings.verdict_tokens, m.verdict
            ),
            None => format!("{} ({})", m.name, m.verdict),
        };
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(stroke),
            ))?
            .label(label)
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (s.px(22.0), 0)], color.stroke_width(stroke))
                    + Circle::new((s.px(11.0), 0), marker, color.filled())
            });
        chart.draw_series(points.iter().map(|&p| {
            EmptyElement::at(p)
                + Circle::new((0, 0), marker + 1, theme.background.filled())
                + Circle::new((0, 0), marker, color.filled())
        }))?;
    }

    // Band labels in the right margin, pushed apart where bands are thin.
    let label_x = plot_x.end + s.px(10.0);
    let band_style = s.text(theme, 14.0);
    let min_gap = s.px(18.0);
    let mut placed: Vec<(i32, &str, Verdict)> = bands
        .iter()
        .map(|(v, lo, hi, label)| {
            (
                chart.backend_coord(&(x_max, (lo + hi) / 2.0)).1,
                label.as_str(),
                *v,
            )
        })
        .collect();
    // Bottom (largest pixel y) first; each label at least `min_gap` above the one below it.
    placed.sort_by_key(|(y, ..)| std::cmp::Reverse(*y));
    let mut floor = i32::MAX;
    for (y, label, v) in &mut placed {
        *y = (*y).min(floor.saturating_sub(min_gap));
        floor = *y;
        let style =
            with_color(&band_style, verdict_color(*v)).pos(Pos::new(HPos::Left, VPos::Center));
        screen.draw(&Text::new(label.to_string(), (label_x, *y), style))?;
    }

    if report.models.is_empty() {
        return draw_no_data(&chart, "no models measured", s, theme);
    }
    if series.iter().all(|(_, p)| p.is_empty()) {
        draw_no_data(&chart, "no valid response times", s, theme)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .margin(s.px(10.0))
        .legend_area_size(s.px(34.0))
        .label_font(s.text(theme, 15.0))
        .background_style(theme.background.mix(0.9))
        .border_style(theme.grid)
        .draw()
}

/// The verdict of the band above: the colour of the line that starts it.
fn next_worse(v: Verdict) -> Verdict {
    match v {
        Verdict::Natural => Verdict::Acceptable,
        Verdict::Acceptable => Verdict::Slow,
        Verdict::Slow | Verdict::Unusable => Verdict::Unusable,
    }
}

#[cfg(test)]
mod tests {
    use crate::bench::fixtures::{llama, qwen, report, seed_report};
    use super::*;

    const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

    /// Width and height from a PNG's IHDR chunk.
    fn png_size(bytes: &[u8]) -> (u32, u32) {
        assert_eq!(bytes[..8], PNG_SIGNATURE, "not a PNG");
        assert_eq!(&bytes[12..16], b"IHDR");
        let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
        (be(16), be(20))
    }

    fn write_and_check(r: &BenchReport) -> (tempfile::TempDir, Vec<PathBuf>) {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("charts"); // not there yet: created
        let files = write_charts(r, &out).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "tok_s.png",
                "tok_s.svg",
                "response_time.png",
                "response_time.svg"
            ]
        );
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            if f.extension().unwrap() == "png" {
                assert_eq!(png_size(&bytes), CHART_SIZE, "{}", f.display());
            } else {
                let svg = String::from_utf8(bytes).unwrap();
                assert!(
                    svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
                    "{}",
                    f.display()
                );
            }
        }
        (dir, files)
    }

    #[test]
    fn writes_four_files_with_the_right_format_and_size() {
        let (_dir, files) = write_and_check(&seed_report());
        assert_eq!(files.len(), 4);
        // Something was drawn: a blank 1000x600 PNG compresses to well under 10 KB.
        assert!(std::fs::metadata(&files[0]).unwrap().len() > 10_000);
    }

    #[test]
    fn svgs_name_the_models_and_the_budget() {
        let r = seed_report();
        let tok = tok_s_svg(&r, &Theme::LIGHT).unwrap();
        let rt = response_time_svg(&r, &Theme::LIGHT).unwrap();
        // The panel's copy is drawn on the UI's dark card colour, the files' on white.
        let dark = tok_s_svg(&r, &Theme::DARK).unwrap();
        assert_ne!(dark, tok, "the theme changes the drawing");
        assert!(dark.to_ascii_uppercase().contains("#171D27"), "the dark card colour is the background");
        for svg in [&tok, &rt] {
            assert!(svg.contains("Llama 3.2 3B"), "{svg}");
            assert!(svg.contains("Qwen 2.5 7B"));
        }
        for needle in [
            "27.2",
            "48.0",
            "9.7",
            "31.1",
            "generation",
            "prompt processing",
            "recommended",
        ] {
            assert!(tok.contains(needle), "tok_s.svg lacks {needle}");
        }
        for needle in [
            "natural &lt; 2 s",
            "acceptable &lt; 3 s",
            "slow 3–4 s",
            "unusable &gt; 4 s",
            "Llama 3.2 3B: 1.8 s at 50 tokens (natural)",
            "Qwen 2.5 7B: 5.2 s at 50 tokens (unusable)",
            "verdict at 50 tokens",
            "generated tokens",
        ] {
            assert!(rt.contains(needle), "response_time.svg lacks {needle}");
        }
        // Text is drawn with the registered family.
        assert!(rt.contains("font-family=\"sans-serif\""));
    }

    #[test]
    fn nan_values_do_not_panic() {
        let mut broken = qwen();
        broken.gen_tok_s = f64::NAN;
        broken.prompt_tok_s = f64::INFINITY;
        broken.ttft_s = f64::NAN;
        broken.response_s.values_mut().for_each(|v| *v = f64::NAN);
        let mut r = report(vec![llama(), broken]);
        r.settings.thresholds.unusable_s = f64::NAN;
        let (_dir, _) = write_and_check(&r);
        let tok = tok_s_svg(&r, &Theme::LIGHT).unwrap();
        assert!(tok.contains("n/a"), "a missing bar is labelled");
        assert!(!tok.contains("NaN") && !response_time_svg(&r, &Theme::LIGHT).unwrap().contains("NaN"));

        // All NaN: still four files, saying so.
        let mut all = qwen();
        all.gen_tok_s = f64::NAN;
        all.prompt_tok_s = f64::NAN;
        all.ttft_s = f64::NAN;
        all.response_s.values_mut().for_each(|v| *v = f64::NAN);
        let r = report(vec![all]);
        write_and_check(&r);
        assert!(tok_s_svg(&r, &Theme::LIGHT).unwrap().contains("no data"));
        assert!(response_time_svg(&r, &Theme::LIGHT).unwrap().contains("no data"));
    }

    #[test]
    fn empty_report_writes_no_data_charts() {
        let r = report(vec![]);
        write_and_check(&r);
        assert!(
            tok_s_svg(&r, &Theme::LIGHT)
                .unwrap()
                .contains("no data: no models measured")
        );
        assert!(
            response_time_svg(&r, &Theme::LIGHT)
                .unwrap()
                .contains("no data: no models measured")
        );
    }

    #[test]
    fn long_names_are_wrapped_or_shortened() {
        let mut models: Vec<ModelBench> = (0..6).map(|_| llama()).collect();
        for (i, m) in models.iter_mut().enumerate() {
            m.name = format!("Meta-Llama-3.2-3B-Instruct-Q4_K_M-variant-number-{i}");
        }
        let svg = tok_s_svg(&report(models), &Theme::LIGHT).unwrap();
        // The text of each `<text>` element: one drawn line.
        let lines: Vec<&str> = svg
            .split("<text")
            .skip(1)
            .filter_map(|t| Some(t[t.find('>')? + 1..t.find("</text>")?].trim()))
            .collect();
        for i in 0..6 {
            let full = format!("Meta-Llama-3.2-3B-Instruct-Q4_K_M-variant-number-{i}");
            assert!(!lines.iter().any(|l| l.contains(&full)), "{full} is drawn on one line: {lines:?}");
        }
        // Each name on two shorter lines, broken at a dash.
        for start in ["Meta-Llama-", "Q4_K_M-"] {
            let count = lines.iter().filter(|l| l.starts_with(start) && l.len() < 40).count();
            assert_eq!(count, 6, "a line starting {start:?} per model: {lines:?}");
        }
    }

    #[test]
    fn small_areas_scale_down() {
        let svg = Chart::ResponseTime.svg(&seed_report(), (500, 300), &Theme::LIGHT).unwrap();
        assert!(svg.contains("width=\"500\"") && svg.contains("Llama 3.2 3B"));
    }

    #[test]
    fn tiny_sizes_do_not_panic() {
        for size in [(0, 0), (1, 1), (60, 40), (200, 120)] {
            for chart in Chart::ALL {
                let _ = chart.svg(&seed_report(), size, &Theme::DARK);
            }
        }
    }

    #[test]
    fn unwritable_directory_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        let err = write_charts(&seed_report(), &file.join("sub")).unwrap_err();
        assert!(matches!(err, ChartError::CreateDir { .. }), "{err:?}");
        assert!(err.to_string().contains("a-file"), "{err}");
    }

}
