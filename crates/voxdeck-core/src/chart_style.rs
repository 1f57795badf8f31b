//! The look shared by every chart voxdeck draws with plotters (the bench report's and the
//! panel's live ones): the embedded font, the colours of a [`Theme`] (light for files and
//! reports, dark for the panel), a size-relative [`Scale`], the header and legend, clean tick
//! labels, and [`svg_string`], which renders any drawing to an in-memory SVG.
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

/// The colours a chart is drawn in. One parameter for every drawing function, so the panel's
/// dark charts and the bench's light files come from the same code.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Theme {
    /// The panel behind the chart.
    pub background: RGBColor,
    pub text: RGBColor,
    /// Secondary text, axes and reference lines.
    pub muted: RGBColor,
    pub grid: RGBColor,
    /// Series colours: generation (and the first stage), prompt, then two more stages.
    pub series: [RGBColor; 4],
    /// Opacity of the verdict bands' fill: a dark background needs a little more to show them.
    pub band_alpha: f64,
}

impl Theme {
    /// For PNG/SVG files and the bench report (and a light UI).
    pub const LIGHT: Theme = Theme {
        background: RGBColor(255, 255, 255),
        text: TEXT,
        muted: MUTED,
        grid: GRID,
        series: [GEN_COLOR, PROMPT_COLOR, RGBColor(148, 103, 189), RGBColor(23, 160, 180)],
        band_alpha: 0.10,
    };

    /// The panel's dark theme: ui/app/styles.css's `--card`, `--text`, `--muted`, `--line`,
    /// `--accent`, `--warn`, `--purple` and a cyan, so the charts sit in their cards.
    pub const DARK: Theme = Theme {
        background: RGBColor(0x17, 0x1d, 0x27),
        text: RGBColor(0xdd, 0xe4, 0xee),
        muted: RGBColor(0x8a, 0x97, 0xa8),
        grid: RGBColor(0x2a, 0x34, 0x42),
        series: [
            RGBColor(0x4c, 0x8d, 0xff),
            RGBColor(0xe0, 0xa4, 0x3a),
            RGBColor(0xa4, 0x7c, 0xf3),
            RGBColor(0x3c, 0xc6, 0xd6),
        ],
        band_alpha: 0.16,
    };

    /// The dark theme for a dark UI, else the light one.
    pub fn of(dark: bool) -> Theme {
        if dark { Theme::DARK } else { Theme::LIGHT }
    }
}

/// plotters writes an SVG `font-size` of the requested size divided by this (its ascent/em
/// ratio); [`Scale::text_px`] undoes it so a size asked for is the size on the page.
const SVG_FONT_RATIO: f64 = 1.24;

/// A tick label without float noise or needless decimals: "50", "300", "0.5", "1", "2.25".
pub fn tick_label(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    let text = format!("{v:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" { "0".to_owned() } else { text.to_owned() }
}

/// A round axis maximum at or above `v`.
pub fn nice_ceiling(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|&c| c >= v * (1.0 - 1e-9))
        .unwrap_or(10.0 * mag)
}

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

    /// DejaVu Sans at `size` (scaled), in the light theme's text colour.
    pub fn font(self, size: f64) -> TextStyle<'static> {
        self.text(&Theme::LIGHT, size)
    }

    /// DejaVu Sans at `size` (scaled), in `theme`'s text colour.
    pub fn text(self, theme: &Theme, size: f64) -> TextStyle<'static> {
        FontDesc::new(FontFamily::SansSerif, size * self.0, FontStyle::Normal).color(&theme.text)
    }

    /// DejaVu Sans whose SVG `font-size` is `px` (scaled): what the page shows at a 1:1 viewBox.
    pub fn text_px(self, theme: &Theme, px: f64) -> TextStyle<'static> {
        self.text(theme, px * SVG_FONT_RATIO)
    }
}

/// `style` in another colour.
pub fn with_color(style: &TextStyle<'static>, color: RGBColor) -> TextStyle<'static> {
    let mut s = style.clone();
    s.color = color.to_backend_color();
    s
}

/// Fills the area with the theme's background, draws a centred title and subtitle, and returns
/// the area below them.
pub fn draw_header<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    theme: &Theme,
    title: &str,
    subtitle: &str,
) -> DrawResult<DrawingArea<DB, Shift>, DB> {
    let s = Scale::of(area);
    area.fill(&theme.background)?;
    let (w, _) = area.dim_in_pixel();
    let cx = (w / 2) as i32;
    let center_top = Pos::new(HPos::Center, VPos::Top);
    area.draw(&Text::new(
        title.to_owned(),
        (cx, s.px(12.0)),
        s.text(theme, 24.0).pos(center_top),
    ))?;
    if !subtitle.is_empty() {
        let sub = with_color(&s.text(theme, 14.0), theme.muted).pos(center_top);
        area.draw(&Text::new(subtitle.to_owned(), (cx, s.px(46.0)), sub))?;
    }
    Ok(area.clone().split_vertically(s.px(72.0)).1)
}

/// A legend of coloured squares and labels in `style`, centred on the area from `y` pixels
/// down: one line where it fits, else as many lines as it needs (each `line_h` apart).
/// [`legend_lines`] says how many, so a caller can make room first.
pub fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    style: &TextStyle<'static>,
    y: i32,
    line_h: i32,
    items: &[(&str, RGBColor)],
) -> DrawResult<(), DB> {
    let style = style.pos(Pos::new(HPos::Left, VPos::Center));
    let (square, pad, gap) = legend_metrics(style.font.get_size());
    let lines = legend_layout(area, &style, items)?;
    for (row, line) in lines.iter().enumerate() {
        let total: i32 = line.iter().map(|(_, w)| square + pad + w).sum::<i32>() + gap * (line.len() as i32 - 1).max(0);
        let mut x = ((area.dim_in_pixel().0 as i32 - total) / 2).max(0);
        let y = y + row as i32 * line_h;
        for (i, w) in line {
            let (label, color) = items[*i];
            area.draw(&Rectangle::new([(x, y - square / 2), (x + square, y + square / 2)], color.filled()))?;
            area.draw(&Text::new(label.to_string(), (x + square + pad, y), style.clone()))?;
            x += square + pad + w + gap;
        }
    }
    Ok(())
}

/// How many lines [`draw_legend`] takes on `area`.
pub fn legend_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    style: &TextStyle<'static>,
    items: &[(&str, RGBColor)],
) -> DrawResult<usize, DB> {
    Ok(legend_layout(area, style, items)?.len())
}

/// Square, label padding and gap between items for a font size.
fn legend_metrics(font_size: f64) -> (i32, i32, i32) {
    let em = font_size / SVG_FONT_RATIO;
    ((em * 0.9).round() as i32, (em * 0.45).round() as i32, (em * 1.4).round() as i32)
}

/// The items (index, label width) on each line, greedily filled to the area's width.
fn legend_layout<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    style: &TextStyle<'static>,
    items: &[(&str, RGBColor)],
) -> DrawResult<Vec<Vec<(usize, i32)>>, DB> {
    let (square, pad, gap) = legend_metrics(style.font.get_size());
    let max_w = area.dim_in_pixel().0 as i32;
    let mut lines: Vec<Vec<(usize, i32)>> = Vec::new();
    let mut used = 0;
    for (i, (label, _)) in items.iter().enumerate() {
        let w = area.estimate_text_size(label, style)?.0 as i32;
        let item = square + pad + w;
        match lines.last_mut() {
            Some(line) if used + gap + item <= max_w => {
                line.push((i, w));
                used += gap + item;
            }
            _ => {
                lines.push(vec![(i, w)]);
                used = item;
            }
        }
    }
    Ok(lines)
}

/// A one-line legend (the bench's wide charts), in the light theme's text; see [`draw_legend`].
pub fn draw_inline_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    theme: &Theme,
    s: Scale,
    y: i32,
    items: &[(&str, RGBColor)],
) -> DrawResult<(), DB> {
    draw_legend(area, &s.text(theme, 15.0), y, s.px(20.0), items)
}

/// The bar charts' mesh (the model bench's tokens per second, the latency benchmark's
/// milestones): no vertical grid and no x labels (the bars are labelled), `y_desc` on the value
/// axis with [`tick_label`] ticks, in `theme`.
pub fn draw_bar_mesh<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>,
    theme: &Theme,
    s: Scale,
    y_desc: &str,
) -> DrawResult<(), DB> {
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(8)
        .y_desc(y_desc)
        .y_label_formatter(&|v| tick_label(*v))
        .label_style(s.text(theme, 14.0))
        .axis_desc_style(s.text(theme, 15.0))
        .bold_line_style(theme.grid)
        .light_line_style(theme.background)
        .axis_style(theme.muted)
        .draw()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_have_no_float_noise() {
        for (v, want) in [
            (50.0, "50"),
            (300.0, "300"),
            (0.5, "0.5"),
            (1.0, "1"),
            (2.0, "2"),
            (2.25, "2.25"),
            (0.1 + 0.2, "0.3"),
            (-0.0, "0"),
            (1500.0, "1500"),
        ] {
            assert_eq!(tick_label(v), want, "{v}");
        }
        assert_eq!(tick_label(f64::NAN), "");
    }

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(f64::NAN), 1.0);
        assert_eq!(nice_ceiling(53.76), 60.0);
        assert_eq!(nice_ceiling(35.0), 40.0);
        assert_eq!(nice_ceiling(2.1), 2.5);
        assert_eq!(nice_ceiling(100.0), 100.0);
        assert_eq!(nice_ceiling(0.07), 0.08);
    }

    #[test]
    fn the_dark_theme_is_the_panels_palette() {
        let css = include_str!("../../../ui/app/styles.css");
        let hex = |c: RGBColor| format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2);
        let dark = Theme::of(true);
        for (var, color) in [("--card", dark.background), ("--text", dark.text), ("--muted", dark.muted), ("--line", dark.grid)] {
            assert!(css.contains(&format!("{var}: {};", hex(color))), "{var} is not {}", hex(color));
        }
        assert_eq!(Theme::of(false), Theme::LIGHT);
        assert_eq!(hex(Theme::LIGHT.background), "#ffffff");
    }

    #[test]
    fn a_legend_wraps_where_one_line_does_not_fit() {
        register_fonts().unwrap();
        let items = [("transcript", GRID), ("1st token", GRID), ("1st sentence", GRID), ("1st audio", GRID)];
        let style = Scale(1.0).text_px(&Theme::DARK, 12.0);
        let lines = |w: u32| {
            let mut svg = String::new();
            let root = SVGBackend::with_string(&mut svg, (w, 40)).into_drawing_area();
            legend_lines(&root, &style, &items).unwrap()
        };
        assert_eq!(lines(900), 1);
        assert!(lines(260) >= 2, "260 px is too narrow for one line");
    }
}
