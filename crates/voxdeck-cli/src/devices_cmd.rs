//! `voxdeck devices`: the audio input and output devices, the default ones marked.

use anyhow::Context;
use voxdeck_core::Config;
use voxdeck_core::audio::{DeviceInfo, DeviceKind, list_devices};

#[derive(clap::Args)]
pub struct DevicesArgs {
    /// Also list every supported configuration range (channels, rates, sample format).
    #[arg(long)]
    all: bool,
    /// Print one JSON object: {"input": [...], "output": [...]}.
    #[arg(long)]
    json: bool,
}

pub fn run(args: DevicesArgs, config: Config) -> anyhow::Result<()> {
    let inputs = list_devices(DeviceKind::Input).context("listing input devices")?;
    let outputs = list_devices(DeviceKind::Output).context("listing output devices")?;
    if args.json {
        let json = serde_json::json!({
            "input": inputs.iter().map(device_json).collect::<Vec<_>>(),
            "output": outputs.iter().map(device_json).collect::<Vec<_>>(),
        });
        return print_out(&format!("{}\n", serde_json::to_string_pretty(&json)?));
    }
    let mut out = String::new();
    section(
        &mut out,
        "Input devices",
        &inputs,
        &config.audio.input_device,
        "input_device",
        args.all,
    );
    out.push('\n');
    section(
        &mut out,
        "Output devices",
        &outputs,
        &config.audio.output_device,
        "output_device",
        args.all,
    );
    out.push_str("\n* = system default. Choose another with [audio] input_device / output_device in the config,\n");
    out.push_str("  or `voxdeck record --device NAME` (a unique part of the name is enough).\n");
    print_out(&out)
}

/// Prints to stdout; a closed pipe (`voxdeck devices | head`) is not an error.
fn print_out(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn section(out: &mut String, title: &str, devices: &[DeviceInfo], configured: &str, key: &str, all: bool) {
    out.push_str(title);
    out.push_str(":\n");
    if devices.is_empty() {
        out.push_str("  (none found: no sound card or sound server answered)\n");
    }
    let width = devices.iter().map(|d| d.name.chars().count()).max().unwrap_or(0);
    for d in devices {
        let mark = if d.is_default { '*' } else { ' ' };
        let opens = d
            .default_format
            .as_ref()
            .map(|f| format!("opens at {f}"))
            .unwrap_or_else(|| "no default format".into());
        let chosen = if !configured.is_empty() && d.name == configured {
            format!("  [audio] {key}")
        } else {
            String::new()
        };
        out.push_str(&format!(
            "{mark} {:<width$}  {opens}; supports {}{chosen}\n",
            d.name,
            d.summary()
        ));
        if all {
            for r in &d.configs {
                out.push_str(&format!(
                    "      {} ch, {}-{} Hz, {}\n",
                    r.channels, r.min_rate, r.max_rate, r.sample_format
                ));
            }
        }
    }
    if !configured.is_empty() && !devices.iter().any(|d| d.name == configured) {
        out.push_str(&format!(
            "  note: [audio] {key} = {configured:?} is not listed by that exact name (a unique part of a name also matches)\n"
        ));
    }
}

fn device_json(d: &DeviceInfo) -> serde_json::Value {
    serde_json::json!({
        "name": d.name,
        "default": d.is_default,
        "default_format": d.default_format.as_ref().map(|f| serde_json::json!({
            "sample_rate": f.sample_rate,
            "channels": f.channels,
            "sample_format": f.sample_format,
        })),
        "configs": d.configs.iter().map(|r| serde_json::json!({
            "channels": r.channels,
            "min_rate": r.min_rate,
            "max_rate": r.max_rate,
            "sample_format": r.sample_format,
        })).collect::<Vec<_>>(),
        "error": d.error,
    })
}
