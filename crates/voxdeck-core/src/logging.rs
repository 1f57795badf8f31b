//! Log setup for the binaries: one format, to stderr.

/// Sends `tracing` logs to stderr, coloured on a terminal. `RUST_LOG` selects them; without it,
/// `default_level` (`"warn"`, `"info"`) with llama.cpp's own chatter kept to errors unless asked
/// for (`RUST_LOG=llama_cpp_2=info`). Call once, first thing in `main`.
pub fn init(default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "{default_level},llama_cpp_2=error,llama-cpp-2=error"
        ))
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
