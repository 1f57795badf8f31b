//! The live charts' data: fed from the engine's events, redrawn by a ticker at `ui.charts_hz`
//! only when something changed, and pushed to front ends as SVG, drawn for the [`View`] the
//! last front end to report one asked for (the charts are drawn once for everyone).
//!
//! Each model load starts the turn charts again (turn numbers restart with a new session) and
//! labels them "load N · model"; latency is in seconds and memory in GiB, in the charts and in
//! their figures alike.
//!
//! Idle cost matters (the panel stays open all day): while no turn is in flight, a memory
//! sample alone redraws at most every [`IDLE_REDRAW`], and not at all if memory did not move.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::warn;

use super::chart_data::{
    ChartData, LiveAnswer, LoadLabel, MEDIAN_OF, MEMORY_WINDOW_S, MemSample, MemoryScale, TURNS_SHOWN, TurnPoint,
    vram_label,
};
use super::chart_draw::{self, GIB, View};
use super::protocol::{Chart, ChartSet, Figure, PanelEvent};
use super::publisher::Publisher;
use crate::config::Config;
use crate::pipeline::Event;
use crate::sync::lock;
use crate::turn_record::Outcome;

/// Longest gap between redraws caused by memory samples alone while idle.
const IDLE_REDRAW: Duration = Duration::from_secs(2);
/// Memory moves smaller than this (bytes) do not redraw an idle chart.
const MEMORY_EPSILON: u64 = 1 << 20;

struct FeedState {
    data: ChartData,
    seq: u64,
    latest: Option<ChartSet>,
    /// Turn data changed: redraw at the next tick.
    dirty: bool,
    /// Only memory changed.
    memory_dirty: bool,
    drawn_memory: Option<u64>,
    last_draw: Option<Instant>,
    view: View,
    /// Model loads so far.
    loads: u32,
}

/// The charts' data and their latest drawing.
pub(super) struct ChartFeed {
    state: Mutex<FeedState>,
    started: Instant,
    hz: f64,
}

impl ChartFeed {
    pub(super) fn new(config: &Config) -> ChartFeed {
        ChartFeed {
            state: Mutex::new(FeedState {
                data: ChartData {
                    memory: VecDeque::new(),
                    vram_label: None,
                    gpu: None,
                    model_share: None,
                    scale: MemoryScale { total_bytes: None, available_bytes: None, config: config.memory.clone() },
                    load: None,
                    turns: VecDeque::new(),
                    live: None,
                    thresholds: config.voice.clone(),
                    now_s: 0.0,
                },
                seq: 0,
                latest: None,
                dirty: true,
                memory_dirty: false,
                drawn_memory: None,
                last_draw: None,
                view: View::default(),
                loads: 0,
            }),
            started: Instant::now(),
            hz: config.ui.charts_hz,
        }
    }

    /// The last drawing, for a front end that just connected.
    pub(super) fn latest(&self) -> Option<ChartSet> {
        lock(&self.state).latest.clone()
    }

    /// Takes in one engine event.
    pub(super) fn feed(&self, event: &Event) {
        let mut st = lock(&self.state);
        let now_s = self.started.elapsed().as_secs_f64();
        match event {
            Event::System { snapshot } => {
                let ram_bytes = snapshot.voxdeck_rss_bytes.or(snapshot.process_rss_bytes).unwrap_or(0);
                // GPU memory of voxdeck's processes where the driver reports it apart from RAM
                // (a Jetson without root only has the same /proc figure: not drawn twice).
                let vram = snapshot.gpu.as_ref().and_then(|g| {
                    let bytes = g.process_memory_bytes?;
                    let separate = !g.process_memory_source.as_deref().is_some_and(|s| s.starts_with("/proc"));
                    separate.then(|| (bytes, vram_label(g)))
                });
                let d = &mut st.data;
                d.now_s = now_s;
                d.vram_label = vram.as_ref().map(|(_, label)| label.clone());
                d.gpu = snapshot.gpu.clone();
                d.scale.total_bytes = snapshot.system_total_bytes;
                d.scale.available_bytes = snapshot.system_available_bytes;
                let system_used_bytes = snapshot
                    .system_total_bytes
                    .zip(snapshot.system_available_bytes)
                    .map(|(total, available)| total.saturating_sub(available));
                d.memory.push_back(MemSample {
                    t_s: now_s,
                    ram_bytes,
                    vram_bytes: vram.map(|(bytes, _)| bytes),
                    system_used_bytes,
                });
                while d.memory.front().is_some_and(|s| s.t_s < now_s - MEMORY_WINDOW_S) {
                    d.memory.pop_front();
                }
                st.memory_dirty = true;
            }
            Event::AnswerDelta { turn, tokens, elapsed_ms, .. } => {
                let live = match st.data.live {
                    Some(live) if live.turn == *turn => live,
                    _ => LiveAnswer { turn: *turn, tokens: 0, gen_tok_s: None, first_token_elapsed_ms: *elapsed_ms },
                };
                let after_first = elapsed_ms - live.first_token_elapsed_ms;
                let gen_tok_s = (*tokens > 1 && after_first > 0.0).then(|| f64::from(tokens - 1) / (after_first / 1000.0));
                st.data.live = Some(LiveAnswer { tokens: *tokens, gen_tok_s, ..live });
                st.dirty = true;
            }
            Event::TurnComplete { record } => {
                st.data.live = None;
                // An announcement (a timer ringing) answers no question: no latency to chart.
                if record.outcome != Outcome::NoSpeech && !record.announcement {
                    st.data.turns.push_back(TurnPoint::of(record));
                    while st.data.turns.len() > TURNS_SHOWN.max(MEDIAN_OF) {
                        st.data.turns.pop_front();
                    }
                }
                st.dirty = true;
            }
            _ => {}
        }
    }

    /// A model load finished: the turn charts start again, labelled with the load and `llm`
    /// (a short name: `models::short_name`).
    pub(super) fn model_loaded(&self, share: Option<u64>, llm: &str) {
        let mut st = lock(&self.state);
        st.loads += 1;
        let load = st.loads;
        st.data.load = Some(LoadLabel { load, llm: llm.to_owned() });
        st.data.model_share = share;
        st.data.turns.clear();
        st.data.live = None;
        st.dirty = true;
    }

    /// Draws for `view` from the next tick on (the last front end to report wins).
    pub(super) fn set_view(&self, view: View) {
        let mut st = lock(&self.state);
        if st.view != view {
            st.view = view;
            st.dirty = true;
        }
    }

    pub(super) fn model_unloaded(&self) {
        let mut st = lock(&self.state);
        st.data.model_share = None;
        st.data.live = None;
        st.dirty = true;
    }

    /// Redraws if due; returns the new drawing to publish.
    fn tick(&self) -> Option<ChartSet> {
        let mut st = lock(&self.state);
        let memory_now = st.data.memory.back().map(|s| s.ram_bytes.saturating_add(s.vram_bytes.unwrap_or(0)));
        let memory_moved = match (memory_now, st.drawn_memory) {
            (Some(now), Some(drawn)) => now.abs_diff(drawn) >= MEMORY_EPSILON,
            (Some(_), None) => true,
            _ => false,
        };
        let idle_due = st.last_draw.is_none_or(|t| t.elapsed() >= IDLE_REDRAW);
        let due = st.dirty || (st.memory_dirty && (st.data.live.is_some() || (memory_moved && idle_due)));
        if !due {
            return None;
        }
        st.seq += 1;
        let set = draw(&st.data, &st.view, st.seq);
        st.dirty = false;
        st.memory_dirty = false;
        st.drawn_memory = memory_now;
        st.last_draw = Some(Instant::now());
        st.latest = Some(set.clone());
        Some(set)
    }

    /// Redraws at `ui.charts_hz` and publishes each new drawing, while the feed lives.
    pub(super) fn spawn_ticker(feed: &Arc<ChartFeed>, publisher: Publisher) {
        let period = Duration::from_secs_f64(1.0 / feed.hz.clamp(0.5, 10.0));
        let feed = Arc::downgrade(feed);
        let spawned = std::thread::Builder::new().name("voxdeck-charts".into()).spawn(move || {
            loop {
                std::thread::sleep(period);
                let Some(feed) = feed.upgrade() else { return };
                if let Some(set) = feed.tick() {
                    publisher.panel(PanelEvent::Charts { charts: Box::new(set) });
                }
            }
        });
        if let Err(e) = spawned {
            warn!("cannot start the chart thread: {e}");
        }
    }
}

/// Draws the three charts for `view`, with their figures and one-line summaries. A chart that
/// fails to draw is sent with an empty SVG (and a warning logged) rather than stopping the others.
pub fn draw(data: &ChartData, view: &View, seq: u64) -> ChartSet {
    let svg = |name: &str, result: Result<String, crate::chart_style::ChartError>| {
        result.unwrap_or_else(|e| {
            warn!("drawing the {name} chart: {e}");
            String::new()
        })
    };
    let chart = |name: &str, title: &str, svg: String, figures: Vec<Figure>, empty: &str| {
        let summary = summary(title, data.load.as_ref(), &figures, empty);
        Chart { name: name.into(), title: title.into(), svg, figures, summary }
    };
    ChartSet {
        seq,
        tok_s: chart(
            "tok_s",
            "Tokens per second",
            svg("tok/s", chart_draw::tok_s(data, view)),
            tok_s_figures(data),
            "no answers yet",
        ),
        memory: chart(
            "memory",
            "Memory in use",
            svg("memory", chart_draw::memory(data, view)),
            memory_figures(data),
            "no samples yet",
        ),
        latency: chart(
            "latency",
            "Latency per turn",
            svg("latency", chart_draw::latency(data, view)),
            latency_figures(data),
            "no turns yet",
        ),
    }
}

/// "Latency per turn (load 1 · SmolLM2 135M): first audio 0.62 s, median 0.70 s; ...", the figures
/// that have a reading, or "<title>: <empty>".
fn summary(title: &str, load: Option<&LoadLabel>, figures: &[Figure], empty: &str) -> String {
    let parts: Vec<String> = figures
        .iter()
        .filter_map(|f| {
            let digits = f.digits as usize;
            let now = f.current?;
            let median = f.median.map(|m| format!(", median {m:.digits$} {}", f.unit)).unwrap_or_default();
            Some(format!("{} {now:.digits$} {}{median}", f.label, f.unit))
        })
        .collect();
    let scope = load.filter(|_| title != "Memory in use").map(|l| format!(" ({})", l.text())).unwrap_or_default();
    if parts.is_empty() { format!("{title}{scope}: {empty}") } else { format!("{title}{scope}: {}", parts.join("; ")) }
}

fn median_of_last(values: impl DoubleEndedIterator<Item = f64>) -> Option<f64> {
    let last: Vec<f64> = values.rev().filter(|v| v.is_finite()).take(MEDIAN_OF).collect();
    (!last.is_empty()).then(|| crate::bench::median(&last))
}

/// Decimals shown for a unit: seconds and GiB need two ("0.62 s", "1.25 GiB").
fn digits(unit: &str) -> u32 {
    match unit {
        "s" | "GiB" => 2,
        "%" | "MHz" => 0,
        _ => 1,
    }
}

fn figure(label: &str, current: Option<f64>, median: Option<f64>, unit: &str) -> Figure {
    Figure { label: label.into(), current, median, unit: unit.into(), digits: digits(unit) }
}

fn tok_s_figures(d: &ChartData) -> Vec<Figure> {
    let last = d.turns.back();
    let live = d.live.and_then(|l| l.gen_tok_s);
    vec![
        figure(
            "generation",
            live.or_else(|| last.and_then(|t| t.gen_tok_s)),
            median_of_last(d.turns.iter().filter_map(|t| t.gen_tok_s)),
            "tok/s",
        ),
        figure(
            "prompt",
            last.and_then(|t| t.prompt_tok_s),
            median_of_last(d.turns.iter().filter_map(|t| t.prompt_tok_s)),
            "tok/s",
        ),
    ]
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / GIB
}

fn memory_figures(d: &ChartData) -> Vec<Figure> {
    let mut figures = vec![figure(
        "RAM used",
        d.memory.back().map(|s| gib(s.ram_bytes)),
        median_of_last(d.memory.iter().map(|s| gib(s.ram_bytes))),
        "GiB",
    )];
    if d.vram_label.is_some() {
        figures.push(figure(
            "VRAM used",
            d.memory.back().and_then(|s| s.vram_bytes).map(gib),
            median_of_last(d.memory.iter().filter_map(|s| s.vram_bytes).map(gib)),
            "GiB",
        ));
    }
    figures.push(figure("models", d.model_share.map(gib), None, "GiB"));
    figures.push(figure("system in use", d.memory.back().and_then(|s| s.system_used_bytes).map(gib), None, "GiB"));
    figures.push(figure("total", d.scale.total_bytes.map(gib), None, "GiB"));
    figures.push(figure("load budget", chart_draw::budget_line(d).map(gib), None, "GiB"));
    if let Some(gpu) = &d.gpu {
        let mode = gpu.power_mode.as_deref().map(|m| format!(" ({m})")).unwrap_or_default();
        figures.push(figure(&format!("GPU load{mode}"), gpu.utilization_pct, None, "%"));
        figures.push(figure("GPU clock", gpu.clock_mhz.map(f64::from), None, "MHz"));
    }
    figures
}

/// In seconds, as the chart's axis.
fn latency_figures(d: &ChartData) -> Vec<Figure> {
    let stage = |label: &str, f: fn(&TurnPoint) -> Option<f64>| {
        let s = |t: &TurnPoint| f(t).map(|ms| ms / 1000.0);
        figure(label, d.turns.back().and_then(s), median_of_last(d.turns.iter().filter_map(s)), "s")
    };
    vec![
        stage("transcript", |t| t.transcript_ms),
        stage("first token", |t| t.first_token_ms),
        stage("first sentence", |t| t.first_sentence_ms),
        stage("first audio", |t| t.first_audio_ms),
        stage("heard", |t| t.first_audible_ms),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::turn_record::TurnRecord;
    use crate::sysmon::SystemSnapshot;

    fn record(turn: u64, scale: f64) -> TurnRecord {
        let mut r = TurnRecord::new("c", turn);
        r.outcome = Outcome::Answered;
        r.engine = Some("local".into());
        r.gen_tok_s = Some(150.0 * scale);
        r.prompt_tok_s = Some(500.0 * scale);
        r.transcript_ms = Some(160.0 / scale);
        r.first_token_ms = Some(330.0 / scale);
        r.first_sentence_ms = Some(420.0 / scale);
        r.first_audio_ms = Some(600.0 / scale);
        r.first_audible_ms = Some(660.0 / scale);
        r
    }

    fn snapshot(rss: u64) -> SystemSnapshot {
        SystemSnapshot {
            unix_ms: 0,
            process_rss_bytes: Some(rss),
            voxdeck_rss_bytes: Some(rss),
            system_total_bytes: Some(24 << 30),
            system_available_bytes: Some(20 << 30),
            process_cpu_pct: None,
            system_cpu_pct: None,
            cores: 2,
            gpu: None,
        }
    }

    #[test]
    fn figures_follow_the_turns_and_the_live_answer() {
        let feed = ChartFeed::new(&Config::default());
        assert!(feed.tick().is_some(), "the first tick draws the empty charts");
        assert!(feed.tick().is_none(), "nothing changed: no redraw");
        feed.feed(&Event::System { snapshot: Box::new(snapshot(400 << 20)) });
        feed.model_loaded(Some(300 << 20), "SmolLM2 135M");
        for (turn, scale) in [(1, 1.0), (2, 0.5), (3, 2.0)] {
            feed.feed(&Event::TurnComplete { record: Box::new(record(turn, scale)) });
        }
        let set = feed.tick().expect("turns changed: a redraw");
        let fig = |c: &Chart, l: &str| c.figures.iter().find(|f| f.label == l).cloned().unwrap();
        let g = fig(&set.tok_s, "generation");
        assert_eq!(g.current, Some(300.0), "the last turn's rate");
        assert_eq!(g.median, Some(150.0), "median of the three");
        assert_eq!(fig(&set.latency, "first audio").current, Some(0.3), "seconds, as the chart");
        assert_eq!(fig(&set.latency, "first audio").unit, "s");
        assert_eq!(fig(&set.latency, "heard").current, Some(0.33));
        assert_eq!(fig(&set.memory, "RAM used").current, Some(400.0 / 1024.0));
        assert_eq!(fig(&set.memory, "models").current, Some(300.0 / 1024.0));
        assert_eq!(
            set.latency.summary,
            "Latency per turn (load 1 · SmolLM2 135M): transcript 0.08 s, median 0.16 s; first token 0.17 s, \
             median 0.33 s; first sentence 0.21 s, median 0.42 s; first audio 0.30 s, median 0.60 s; heard 0.33 s, median 0.66 s"
        );
        assert!(set.tok_s.summary.starts_with("Tokens per second (load 1 · SmolLM2 135M): generation 300.0 tok/s"));
        assert!(!set.memory.figures.iter().any(|f| f.label == "VRAM used"), "no GPU, no VRAM figure");
        for chart in [&set.tok_s, &set.memory, &set.latency] {
            assert!(chart.svg.starts_with("<svg") && chart.svg.contains("<rect"), "{}", chart.name);
        }

        // While an answer streams, the live rate excludes the first token's wait.
        feed.feed(&Event::AnswerDelta { turn: 4, text: "a".into(), tokens: 1, elapsed_ms: 300.0 });
        feed.feed(&Event::AnswerDelta { turn: 4, text: "b".into(), tokens: 11, elapsed_ms: 400.0 });
        let set = feed.tick().expect("a live answer redraws");
        assert_eq!(fig(&set.tok_s, "generation").current, Some(100.0));
        assert!(set.tok_s.svg.contains("#4 now"));
        if let Some(dir) = std::env::var_os("VOXDECK_CHART_DUMP") {
            let dir = std::path::PathBuf::from(dir);
            for c in [&set.tok_s, &set.memory, &set.latency] {
                std::fs::write(dir.join(format!("{}.svg", c.name)), &c.svg).unwrap();
            }
        }
    }

    #[test]
    fn an_idle_memory_sample_that_did_not_move_is_not_redrawn() {
        let feed = ChartFeed::new(&Config::default());
        feed.feed(&Event::System { snapshot: Box::new(snapshot(400 << 20)) });
        assert!(feed.tick().is_some());
        feed.feed(&Event::System { snapshot: Box::new(snapshot((400 << 20) + 1000)) });
        assert!(feed.tick().is_none(), "a few bytes more: no redraw");
        let seq = lock(&feed.state).seq;
        lock(&feed.state).last_draw = Some(Instant::now() - IDLE_REDRAW);
        feed.feed(&Event::System { snapshot: Box::new(snapshot(500 << 20)) });
        let set = feed.tick().expect("100 MiB more, and the idle interval passed");
        assert_eq!(set.seq, seq + 1);
    }

    #[test]
    fn vram_is_its_own_series_named_by_its_source() {
        let feed = ChartFeed::new(&Config::default());
        let mut with_gpu = snapshot(400 << 20);
        with_gpu.gpu = Some(crate::sysmon::GpuSnapshot {
            name: "NVIDIA H100".into(),
            source: "nvml".into(),
            process_memory_bytes: Some(1900 << 20),
            process_memory_source: Some("NVML, per process".into()),
            ..Default::default()
        });
        for _ in 0..3 {
            feed.feed(&Event::System { snapshot: Box::new(with_gpu.clone()) });
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        feed.model_loaded(Some(1500 << 20), "m");
        let set = feed.tick().expect("first draw");
        if let Some(dir) = std::env::var_os("VOXDECK_CHART_DUMP") {
            std::fs::write(std::path::Path::new(&dir).join("memory-gpu.svg"), &set.memory.svg).unwrap();
        }
        let fig = |l: &str| set.memory.figures.iter().find(|f| f.label == l).cloned().unwrap();
        assert_eq!(fig("RAM used").current, Some(400.0 / 1024.0));
        assert_eq!(fig("VRAM used").current, Some(1900.0 / 1024.0));
        assert_eq!(fig("GPU load").current, None, "no load reading in this snapshot");
        assert!(set.memory.svg.contains("VRAM · NVML") && set.memory.svg.contains("RAM · /proc"), "legend names the sources");

        // A Jetson without root: the GPU share is the same /proc figure, drawn once.
        if let Some(gpu) = with_gpu.gpu.as_mut() {
            gpu.unified_memory = true;
            gpu.process_memory_source = Some("/proc RSS (unified memory; nvmap needs root)".into());
        }
        feed.feed(&Event::System { snapshot: Box::new(with_gpu) });
        lock(&feed.state).dirty = true;
        let set = feed.tick().expect("redraw");
        assert!(!set.memory.figures.iter().any(|f| f.label == "VRAM used"));
    }

    fn svg_texts(svg: &str) -> Vec<String> {
        svg.split("<text").skip(1).filter_map(|t| Some(t.split_once('>')?.1.split_once("</text>")?.0.trim().to_owned())).collect()
    }

    fn font_sizes(svg: &str) -> Vec<f64> {
        svg.split("font-size=\"").skip(1).filter_map(|t| t.split_once('"')?.0.parse().ok()).collect()
    }

    fn feed_with_turns() -> ChartFeed {
        let feed = ChartFeed::new(&Config::default());
        feed.feed(&Event::System { snapshot: Box::new(snapshot(400 << 20)) });
        feed.model_loaded(Some(300 << 20), "SmolLM2 135M");
        for (turn, scale) in [(1, 1.0), (2, 0.5), (3, 2.0)] {
            feed.feed(&Event::TurnComplete { record: Box::new(record(turn, scale)) });
        }
        feed
    }

    #[test]
    fn charts_are_drawn_at_the_reported_size_with_readable_text_and_clean_ticks() {
        let feed = feed_with_turns();
        let set = feed.tick().unwrap();
        assert!(set.tok_s.svg.contains("viewBox=\"0 0 420 260\""), "LIVE_SIZE before any report");
        feed.set_view(View::reported(261.4, 200.0, 2.0, true).unwrap());
        let set = feed.tick().expect("a new view redraws");
        for chart in [&set.tok_s, &set.memory, &set.latency] {
            assert!(chart.svg.contains("viewBox=\"0 0 261 200\""), "{}", chart.name);
            let sizes = font_sizes(&chart.svg);
            assert!(!sizes.is_empty() && sizes.iter().all(|s| *s >= 11.0), "{}: {sizes:?}", chart.name);
            for text in svg_texts(&chart.svg) {
                assert!(!text.ends_with(".0"), "{}: tick label {text:?}", chart.name);
            }
        }
        let ticks = svg_texts(&set.tok_s.svg);
        assert!(ticks.iter().any(|t| t == "tok/s") && ticks.iter().any(|t| t == "500"), "{ticks:?}");
        if let Some(dir) = std::env::var_os("VOXDECK_CHART_DUMP") {
            for c in [&set.tok_s, &set.memory, &set.latency] {
                std::fs::write(std::path::Path::new(&dir).join(format!("{}-261.svg", c.name)), &c.svg).unwrap();
            }
        }
        assert!(svg_texts(&set.latency.svg).iter().any(|t| t == "2"), "seconds as 2, not 2.0");
        assert!(feed.tick().is_none(), "the same view again: nothing to redraw");
        feed.set_view(View::reported(261.4, 200.0, 2.0, true).unwrap());
        assert!(feed.tick().is_none(), "a repeated report does not redraw");

        // A zoomed-out page (pixel ratio 0.8) gets larger text, so it stays 11 px on screen.
        feed.set_view(View::reported(300.0, 200.0, 0.8, true).unwrap());
        let set = feed.tick().unwrap();
        assert!(font_sizes(&set.latency.svg).iter().all(|s| *s * 0.8 >= 11.0));
        // Out-of-range sizes are pulled into range.
        let tiny = View::reported(3.0, 1e6, 100.0, false).unwrap();
        assert_eq!(tiny.size, (160, 2160));
        assert!(View::reported(f64::NAN, 200.0, 1.0, true).is_err());
    }

    #[test]
    fn the_theme_follows_the_reported_ui() {
        let feed = feed_with_turns();
        let dark = feed.tick().unwrap();
        assert!(dark.memory.svg.contains("#171D27") || dark.memory.svg.contains("#171d27"), "dark card background");
        feed.set_view(View::reported(420.0, 260.0, 1.0, false).unwrap());
        let light = feed.tick().unwrap();
        for chart in [&light.tok_s, &light.memory, &light.latency] {
            assert!(chart.svg.to_uppercase().contains("FILL=\"#FFFFFF\""), "{}: white in a light UI", chart.name);
            assert!(!chart.svg.to_uppercase().contains("#171D27"), "{}", chart.name);
        }
    }

    #[test]
    fn a_model_load_starts_the_turn_charts_again_and_labels_them() {
        let feed = feed_with_turns();
        let set = feed.tick().unwrap();
        let texts = svg_texts(&set.tok_s.svg);
        assert!(texts.iter().any(|t| t == "#3") && texts.iter().any(|t| t == "load 1 · SmolLM2 135M"));
        feed.model_unloaded();
        feed.model_loaded(Some(200 << 20), "Gemma 3 270M");
        let set = feed.tick().unwrap();
        assert!(set.tok_s.svg.contains("no answers yet") && set.latency.svg.contains("no turns yet"));
        assert!(set.tok_s.figures.iter().all(|f| f.current.is_none()), "no figures from the old load");
        feed.feed(&Event::TurnComplete { record: Box::new(record(1, 1.0)) });
        let set = feed.tick().unwrap();
        let texts = svg_texts(&set.latency.svg);
        assert!(texts.iter().any(|t| t == "#1") && !texts.iter().any(|t| t == "#3"), "only this load's turns: {texts:?}");
        assert!(set.latency.svg.contains("load 2 · Gemma 3 270M"), "{}", set.latency.summary);
        assert!(set.latency.summary.starts_with("Latency per turn (load 2 · Gemma 3 270M): transcript 0.16 s"));
    }

    #[test]
    fn memory_is_drawn_on_the_devices_total_with_headroom_and_budget() {
        let feed = feed_with_turns();
        let set = feed.tick().unwrap();
        let texts = svg_texts(&set.memory.svg);
        // 24 GiB total, 20 GiB available, 256 MiB headroom: the axis reaches 24 and both lines are named.
        assert!(texts.iter().any(|t| t == "of 24 GiB"), "{texts:?}");
        assert!(texts.iter().any(|t| t == "20"), "ticks up to the total: {texts:?}");
        assert!(texts.iter().any(|t| t == "headroom 256 MiB"), "{texts:?}");
        assert!(texts.iter().any(|t| t == "load budget"), "{texts:?}");
        let fig = |l: &str| set.memory.figures.iter().find(|f| f.label == l).and_then(|f| f.current);
        assert_eq!(fig("total"), Some(24.0));
        assert_eq!(fig("system in use"), Some(4.0));
        // The memory check's budget: 20 GiB available - 256 MiB headroom, on top of our 400 MiB.
        assert_eq!(fig("load budget"), Some((400.0 + 20.0 * 1024.0 - 256.0) / 1024.0));
        assert!(set.memory.summary.contains("total 24.00 GiB"), "{}", set.memory.summary);

        // memory.limit_mb caps the budget as it caps the check.
        let mut config = Config::default();
        config.memory.limit_mb = 2048;
        let feed = ChartFeed::new(&config);
        feed.feed(&Event::System { snapshot: Box::new(snapshot(400 << 20)) });
        let set = feed.tick().unwrap();
        let budget = set.memory.figures.iter().find(|f| f.label == "load budget").and_then(|f| f.current);
        assert_eq!(budget, Some((400.0 + 2048.0 - 256.0) / 1024.0));
    }
}
