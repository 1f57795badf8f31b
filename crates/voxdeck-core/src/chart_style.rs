//! The look shared by every chart voxdeck draws with plotters (the bench report's and the
//! panel's live ones): the embedded font, the colours, a size-relative [`Scale`], the header and
//! legend, and [`svg_string`], which renders any drawing to an in-memory SVG.
//!
//! Text uses the embedded DejaVu Sans ([`register_fonts`]), so no system font is needed.

use std::io;
use std::path::PathBuf;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::voice_latency::Verdict;

/// DejaVu Sans (Bitstream Vera licence, see `assets/fonts/LICENSE-DejaVu.txt`).
static DEJAVU_SANS: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");

/// Errors drawing or writing a chart; each names the file (or, for in-memory SVG, the chart).
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("cannot create the chart directory {path}: {source}")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot write chart {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot draw chart {path}: {message}")]
    Draw { path: PathBuf, message: String },
    #[error("cannot load the embedded chart font (DejaVu Sans)")]
    Font,
}

/// Registers the embedded DejaVu Sans for every generic family plotters asks for. Idempotent and
/// cheap after the first call; [`svg_string`] and the bench charts call it, a caller drawing with
/// its own plotters code must call it first.
pub fn register_fonts() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        ["sans-serif", "serif", "monospace"]
            .into_iter()
            .all(|family| {
                plotters::style::register_font(family, FontStyle::Normal, DEJAVU_SANS).is_ok()
            })
    });
    if ok { Ok(()) } else { Err(ChartError::Font) }
}

/// Renders any drawing into an SVG string of `size` pixels; `name` names the chart in errors.
/// Registers the fonts first. The building block for the UI's live charts.
pub fn svg_string<F>(name: &str, size: (u32, u32), draw: F) -> Result<String, ChartError>
where
    F: for<'a> FnOnce(&DrawingArea<SVGBackend<'a>, Shift>) -> DrawResult<(), SVGBackend<'a>>,
{
    register_fonts()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw(&root)
            .and_then(|()| root.present())
            .map_err(|e| ChartError::Draw {
                path: PathBuf::from(name),
                message: e.to_string(),
            })?;
    }
    Ok(svg)
}

pub const TEXT: RGBColor = RGBColor(33, 37, 41);
pub const MUTED: RGBColor = RGBColor(108, 117, 125);
pub const GRID: RGBColor = RGBColor(222, 226, 230);
pub const GEN_COLOR: RGBColor = RGBColor(31, 119, 180);
pub const PROMPT_COLOR: RGBColor = RGBColor(255, 127, 14);

/// Line colours for models, chosen away from the budget bands' green / amber / red.
const MODEL_COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(148, 103, 189),
    RGBColor(23, 160, 180),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(60, 60, 60),
    RGBColor(188, 189, 34),
    RGBColor(44, 62, 140),
];

/// Model colour `i` (cycles).
pub fn model_color(i: usize) -> RGBColor {
    MODEL_COLORS[i % MODEL_COLORS.len()]
}

/// Band colour of a verdict (light fills use it with alpha; labels use it as is).
pub fn verdict_color(v: Verdict) -> RGBColor {
    match v {
        Verdict::Natural => RGBColor(40, 150, 60),
        Verdict::Acceptable => RGBColor(170, 140, 0),
        Verdict::Slow => RGBColor(220, 110, 0),
        Verdict::Unusable => RGBColor(200, 40, 40),
    }
}

/// Pixel sizes relative to a 1000x600 chart, so a thumbnail or a large panel stays legible.
#[derive(Debug, Clone, Copy)]
pub struct Scale(pub f64);

impl Scale {
    pub fn of<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>) -> Scale {
        let (w, h) = area.dim_in_pixel();
        Scale(
            (f64::from(w) / 1000.0)
                .min(f64::from(h) / 600.0)
                .clamp(0.5, 3.0),
        )
    }

    pub fn px(self, v: f64) -> i32 {
        (v * self.0).round() as i32
    }

    /// DejaVu Sans at `size` (scaled), in the text colour.
    pub fn font(self, size: f64) -> TextStyle<'static> {
        FontDesc::new(FontFamily::SansSerif, size * self.0, FontStyle::Normal).color(&TEXT)
    }
}

/// `style` in another colour.
pub fn with_color(style: &TextStyle<'static>, color: RGBColor) -> TextStyle<'static> {
    let mut s = style.clone();
    s.color = color.to_backend_color();
    s
}

/// Fills the area white, draws a centred title and subtitle, and returns the area below them.
pub fn draw_header<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
) -> DrawResult<DrawingArea<DB, Shift>, DB> {
    let s = Scale::of(area);
    area.fill(&WHITE)?;
    let (w, _) = area.dim_in_pixel();
    let cx = (w / 2) as i32;
    let center_top = Pos::new(HPos::Center, VPos::Top);
    area.draw(&Text::new(
        title.to_owned(),
        (cx, s.px(12.0)),
        s.font(24.0).pos(center_top),
    ))?;
    if !subtitle.is_empty() {
        let sub = with_color(&s.font(14.0), MUTED).pos(center_top);
        area.draw(&Text::new(subtitle.to_owned(), (cx, s.px(46.0)), sub))?;
    }
    Ok(area.clone().split_vertically(s.px(72.0)).1)
}

/// A one-line legend of coloured squares and labels, centred on the area at `y` pixels
/// (`s`: the scale of the whole chart, as a legend strip is too thin to judge).
pub fn draw_inline_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: Scale,
    y: i32,
    items: &[(&str, RGBColor)],
) -> DrawResult<(), DB> {
    let style = s.font(15.0).pos(Pos::new(HPos::Left, VPos::Center));
    let (square, pad, gap) = (s.px(14.0), s.px(7.0), s.px(28.0));
    let widths = items
        .iter()
        .map(|(label, _)| {
            area.estimate_text_size(label, &style)
                .map(|(w, _)| w as i32)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let total: i32 = widths.iter().map(|w| square + pad + w).sum::<i32>()
        + gap * (items.len() as i32 - 1).max(0);
    let mut x = (area.dim_in_pixel().0 as i32 - total) / 2;
    for ((label, color), w) in items.iter().zip(widths) {
        area.draw(&Rectangle::new(
            [(x, y - square / 2), (x + square, y + square / 2)],
            color.filled(),
        ))?;
        area.draw(&Text::new(
            label.to_string(),
            (x + square + pad, y),
            style.clone(),
        ))?;
        x += square + pad + w + gap;
    }
    Ok(())
}
