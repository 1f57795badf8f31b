//! The live charts' data: fed from the engine's events, redrawn by a ticker at `ui.charts_hz`
//! only when something changed, and pushed to front ends as SVG.
//!
//! Idle cost matters (the panel stays open all day): while no turn is in flight, a memory
//! sample alone redraws at most every [`IDLE_REDRAW`], and not at all if memory did not move.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::warn;

use super::chart_data::{
    ChartData, LiveAnswer, MEDIAN_OF, MEMORY_WINDOW_S, MemSample, TURNS_SHOWN, TurnPoint, vram_label,
};
use super::chart_draw;
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
                d.memory.push_back(MemSample { t_s: now_s, ram_bytes, vram_bytes: vram.map(|(bytes, _)| bytes) });
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
                if record.outcome != Outcome::NoSpeech {
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

    pub(super) fn model_loaded(&self, share: Option<u64>) {
        let mut st = lock(&self.state);
        st.data.model_share = share;
        st.dirty = true;
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
        let set = draw(&st.data, st.seq);
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

/// Draws the three charts and their figures. A chart that fails to draw is sent with an
/// empty SVG (and a warning logged) rather than stopping the others.
pub fn draw(data: &ChartData, seq: u64) -> ChartSet {
    let svg = |name: &str, result: Result<String, crate::chart_style::ChartError>| {
        result.unwrap_or_else(|e| {
            warn!("drawing the {name} chart: {e}");
            String::new()
        })
    };
    ChartSet {
        seq,
        tok_s: Chart {
            name: "tok_s".into(),
            title: "Tokens per second".into(),
            svg: svg("tok/s", chart_draw::tok_s(data)),
            figures: tok_s_figures(data),
        },
        memory: Chart {
            name: "memory".into(),
            title: "Memory in use".into(),
            svg: svg("memory", chart_draw::memory(data)),
            figures: memory_figures(data),
        },
        latency: Chart {
            name: "latency".into(),
            title: "Latency per turn".into(),
            svg: svg("latency", chart_draw::latency(data)),
            figures: latency_figures(data),
        },
    }
}

fn median_of_last(values: impl DoubleEndedIterator<Item = f64>) -> Option<f64> {
    let last: Vec<f64> = values.rev().filter(|v| v.is_finite()).take(MEDIAN_OF).collect();
    (!last.is_empty()).then(|| crate::bench::median(&last))
}

fn figure(label: &str, current: Option<f64>, median: Option<f64>, unit: &str) -> Figure {
    Figure { label: label.into(), current, median, unit: unit.into() }
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

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn memory_figures(d: &ChartData) -> Vec<Figure> {
    let mut figures = vec![figure(
        "RAM used",
        d.memory.back().map(|s| mib(s.ram_bytes)),
        median_of_last(d.memory.iter().map(|s| mib(s.ram_bytes))),
        "MiB",
    )];
    if d.vram_label.is_some() {
        figures.push(figure(
            "VRAM used",
            d.memory.back().and_then(|s| s.vram_bytes).map(mib),
            median_of_last(d.memory.iter().filter_map(|s| s.vram_bytes).map(mib)),
            "MiB",
        ));
    }
    figures.push(figure("models", d.model_share.map(mib), None, "MiB"));
    if let Some(gpu) = &d.gpu {
        let mode = gpu.power_mode.as_deref().map(|m| format!(" ({m})")).unwrap_or_default();
        figures.push(figure(&format!("GPU load{mode}"), gpu.utilization_pct, None, "%"));
        figures.push(figure("GPU clock", gpu.clock_mhz.map(f64::from), None, "MHz"));
    }
    figures
}

fn latency_figures(d: &ChartData) -> Vec<Figure> {
    let stage = |label: &str, f: fn(&TurnPoint) -> Option<f64>| {
        figure(label, d.turns.back().and_then(f), median_of_last(d.turns.iter().filter_map(f)), "ms")
    };
    vec![
        stage("transcript", |t| t.transcript_ms),
        stage("first token", |t| t.first_token_ms),
        stage("first sentence", |t| t.first_sentence_ms),
        stage("first audio", |t| t.first_audio_ms),
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
        for (turn, scale) in [(1, 1.0), (2, 0.5), (3, 2.0)] {
            feed.feed(&Event::TurnComplete { record: Box::new(record(turn, scale)) });
        }
        feed.feed(&Event::System { snapshot: Box::new(snapshot(400 << 20)) });
        feed.model_loaded(Some(300 << 20));
        let set = feed.tick().expect("turns changed: a redraw");
        let fig = |c: &Chart, l: &str| c.figures.iter().find(|f| f.label == l).cloned().unwrap();
        let g = fig(&set.tok_s, "generation");
        assert_eq!(g.current, Some(300.0), "the last turn's rate");
        assert_eq!(g.median, Some(150.0), "median of the three");
        assert_eq!(fig(&set.latency, "first audio").current, Some(300.0));
        assert_eq!(fig(&set.memory, "RAM used").current, Some(400.0));
        assert_eq!(fig(&set.memory, "models").current, Some(300.0));
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
        feed.model_loaded(Some(1500 << 20));
        let set = feed.tick().expect("first draw");
        if let Some(dir) = std::env::var_os("VOXDECK_CHART_DUMP") {
            std::fs::write(std::path::Path::new(&dir).join("memory-gpu.svg"), &set.memory.svg).unwrap();
        }
        let fig = |l: &str| set.memory.figures.iter().find(|f| f.label == l).cloned().unwrap();
        assert_eq!(fig("RAM used").current, Some(400.0));
        assert_eq!(fig("VRAM used").current, Some(1900.0));
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
}
