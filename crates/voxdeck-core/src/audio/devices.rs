//! Audio devices through cpal: listing, and picking one by name.
//!
//! On Linux cpal's ALSA host lists the ALSA `default` device (plus `pipewire`, `pulse`, `jack`
//! and `oss` where they are defined) and one device per sound card (opened as `plughw:N`, named
//! after the card). A device is picked by its exact name, else a case-insensitive match, else a
//! unique case-insensitive substring ("usb" finds "USB Audio Device").

use std::fmt;

use cpal::traits::{DeviceTrait, HostTrait};

use super::AudioError;

/// Input (capture) or output (playback).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    Input,
    Output,
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceKind::Input => "input",
            DeviceKind::Output => "output",
        })
    }
}

/// One supported range of stream configurations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigRange {
    pub channels: u16,
    pub min_rate: u32,
    pub max_rate: u32,
    /// cpal's name for the sample format: `i16`, `f32`, …
    pub sample_format: String,
}

/// A concrete stream configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamFormat {
    pub channels: u16,
    pub sample_rate: u32,
    pub sample_format: String,
}

impl fmt::Display for StreamFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} Hz, {} ch, {}",
            self.sample_rate, self.channels, self.sample_format
        )
    }
}

/// A device as `voxdeck devices` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    pub name: String,
    pub kind: DeviceKind,
    /// The host's default device for this direction.
    pub is_default: bool,
    /// The configuration cpal would open by default.
    pub default_format: Option<StreamFormat>,
    /// Every supported range (cpal lists one per channel count and sample format).
    pub configs: Vec<ConfigRange>,
    /// Why the configurations could not be read (device busy, …), if they could not.
    pub error: Option<String>,
}

impl DeviceInfo {
    /// The distinct channel counts, ascending.
    pub fn channel_counts(&self) -> Vec<u16> {
        let mut c: Vec<u16> = self.configs.iter().map(|r| r.channels).collect();
        c.sort_unstable();
        c.dedup();
        c
    }

    /// The overall sample-rate span (lowest minimum, highest maximum).
    pub fn rate_span(&self) -> Option<(u32, u32)> {
        let min = self.configs.iter().map(|r| r.min_rate).min()?;
        let max = self.configs.iter().map(|r| r.max_rate).max()?;
        Some((min, max))
    }

    /// The distinct sample formats, in cpal's order of listing.
    pub fn sample_formats(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.configs {
            if !out.contains(&r.sample_format) {
                out.push(r.sample_format.clone());
            }
        }
        out
    }

    /// Whether some configuration supports `rate`.
    pub fn supports_rate(&self, rate: u32) -> bool {
        self.configs.iter().any(|r| r.min_rate <= rate && rate <= r.max_rate)
    }

    /// One line: rates, channels and formats, e.g. `8000-192000 Hz, 1-2 ch, i16/i32/f32`.
    pub fn summary(&self) -> String {
        if let Some(e) = &self.error {
            return format!("(configurations unavailable: {e})");
        }
        let Some((min, max)) = self.rate_span() else {
            return "(no configurations)".into();
        };
        let rates = if min == max {
            format!("{min} Hz")
        } else {
            format!("{min}-{max} Hz")
        };
        let ch = self.channel_counts();
        let channels = match (ch.first(), ch.last()) {
            (Some(a), Some(b)) if a == b => format!("{a} ch"),
            (Some(a), Some(b)) if ch.len() == usize::from(b - a) + 1 => format!("{a}-{b} ch"),
            _ => format!("{} ch", ch.iter().map(u16::to_string).collect::<Vec<_>>().join("/")),
        };
        format!("{rates}, {channels}, {}", self.sample_formats().join("/"))
    }
}

fn backend(e: impl fmt::Display) -> AudioError {
    AudioError::Backend(e.to_string())
}

/// Lists the devices of one direction, the default one marked.
pub fn list_devices(kind: DeviceKind) -> Result<Vec<DeviceInfo>, AudioError> {
    route_alsa_messages_to_log();
    let host = cpal::default_host();
    let default_name = default_device(&host, kind).and_then(|d| d.name().ok());
    let devices = match kind {
        DeviceKind::Input => host.input_devices().map_err(backend)?.collect::<Vec<_>>(),
        DeviceKind::Output => host.output_devices().map_err(backend)?.collect::<Vec<_>>(),
    };
    let mut out = Vec::with_capacity(devices.len());
    for device in devices {
        let name = match device.name() {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!("skipping a device without a name: {e}");
                continue;
            }
        };
        let (configs, error) = match supported_ranges(&device, kind) {
            Ok(c) => (c, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        // cpal's ALSA host lists a device once for both directions; skip the direction it lacks.
        if error.is_none() && configs.is_empty() {
            continue;
        }
        let default_format = match kind {
            DeviceKind::Input => device.default_input_config(),
            DeviceKind::Output => device.default_output_config(),
        }
        .ok()
        .map(|c| StreamFormat {
            channels: c.channels(),
            sample_rate: c.sample_rate().0,
            sample_format: c.sample_format().to_string(),
        });
        out.push(DeviceInfo {
            is_default: default_name.as_deref() == Some(name.as_str()),
            name,
            kind,
            default_format,
            configs,
            error,
        });
    }
    Ok(out)
}

fn supported_ranges(device: &cpal::Device, kind: DeviceKind) -> Result<Vec<ConfigRange>, String> {
    let map = |r: cpal::SupportedStreamConfigRange| ConfigRange {
        channels: r.channels(),
        min_rate: r.min_sample_rate().0,
        max_rate: r.max_sample_rate().0,
        sample_format: r.sample_format().to_string(),
    };
    match kind {
        DeviceKind::Input => match device.supported_input_configs() {
            Ok(it) => Ok(it.map(map).collect()),
            // The device exists but has no capture side.
            Err(cpal::SupportedStreamConfigsError::InvalidArgument) => Ok(Vec::new()),
            Err(e) => Err(e.to_string()),
        },
        DeviceKind::Output => match device.supported_output_configs() {
            Ok(it) => Ok(it.map(map).collect()),
            Err(cpal::SupportedStreamConfigsError::InvalidArgument) => Ok(Vec::new()),
            Err(e) => Err(e.to_string()),
        },
    }
}

fn default_device(host: &cpal::Host, kind: DeviceKind) -> Option<cpal::Device> {
    match kind {
        DeviceKind::Input => host.default_input_device(),
        DeviceKind::Output => host.default_output_device(),
    }
}

/// Finds a device: `None` or `""` is the default device, anything else a name (see the module
/// docs for how names match). Returns the device and its name.
pub fn find_device(kind: DeviceKind, name: Option<&str>) -> Result<(cpal::Device, String), AudioError> {
    route_alsa_messages_to_log();
    let host = cpal::default_host();
    let wanted = name.map(str::trim).filter(|n| !n.is_empty());
    let Some(wanted) = wanted else {
        let device = default_device(&host, kind).ok_or(AudioError::NoDefaultDevice { kind })?;
        let name = device.name().unwrap_or_else(|_| "default".into());
        return Ok((device, name));
    };
    let devices: Vec<(cpal::Device, String)> = match kind {
        DeviceKind::Input => host.input_devices().map_err(backend)?.collect::<Vec<_>>(),
        DeviceKind::Output => host.output_devices().map_err(backend)?.collect::<Vec<_>>(),
    }
    .into_iter()
    .filter_map(|d| d.name().ok().map(|n| (d, n)))
    .collect();
    let names: Vec<String> = devices.iter().map(|(_, n)| n.clone()).collect();
    match pick_name(&names, wanted) {
        Some(i) => {
            let (device, name) = devices
                .into_iter()
                .nth(i)
                .ok_or_else(|| backend("device list changed"))?;
            tracing::debug!(%kind, requested = wanted, device = %name, "picked audio device");
            Ok((device, name))
        }
        None => Err(AudioError::NoSuchDevice {
            kind,
            name: wanted.to_owned(),
            available: names,
        }),
    }
}

/// The error for a device whose default configuration cannot be read: on ALSA, what the
/// `default` device says when there is no sound card and no sound server.
pub(crate) fn config_error(kind: DeviceKind, device: &str, e: cpal::DefaultStreamConfigError) -> AudioError {
    let message = match e {
        cpal::DefaultStreamConfigError::DeviceNotAvailable => format!(
            "not available: no sound card or sound server answered for it (`voxdeck devices` lists the {kind} devices)"
        ),
        cpal::DefaultStreamConfigError::StreamTypeNotSupported => format!("cannot be used for {kind}"),
        other => format!("no usable {kind} configuration: {other}"),
    };
    AudioError::Device {
        kind,
        device: device.to_owned(),
        message,
    }
}

/// Index of the name that `wanted` selects: exact, else case-insensitive, else the only
/// case-insensitive substring match.
pub fn pick_name(names: &[String], wanted: &str) -> Option<usize> {
    if let Some(i) = names.iter().position(|n| n == wanted) {
        return Some(i);
    }
    let lower = wanted.to_lowercase();
    if let Some(i) = names.iter().position(|n| n.to_lowercase() == lower) {
        return Some(i);
    }
    let mut hits = names
        .iter()
        .enumerate()
        .filter(|(_, n)| n.to_lowercase().contains(&lower));
    match (hits.next(), hits.next()) {
        (Some((i, _)), None) => Some(i),
        _ => None,
    }
}

/// Sends alsa-lib's own messages to the debug log (`RUST_LOG=debug`) instead of stderr, once per
/// process. cpal's device enumeration probes `pipewire`, `pulse`, `jack` and `oss`, and
/// alsa-lib prints "ALSA lib pcm.c:…: Unknown PCM pipewire" for each one a system lacks; on a
/// machine without a sound card it prints a screenful before voxdeck's own error says so.
#[cfg(target_os = "linux")]
pub(crate) fn route_alsa_messages_to_log() {
    use std::ffi::{CStr, c_char, c_int};

    // alsa-lib's handler type is variadic (`..., const char *fmt, ...)`); this one takes the
    // fixed arguments only and never reads the variadic ones, which the x86-64 and AArch64 Linux
    // calling conventions allow (those are passed like ordinary arguments, after these).
    type Handler = unsafe extern "C" fn(*const c_char, c_int, *const c_char, c_int, *const c_char);
    unsafe extern "C" {
        fn snd_lib_error_set_handler(handler: Option<Handler>) -> c_int;
    }
    unsafe extern "C" fn to_log(
        file: *const c_char,
        line: c_int,
        function: *const c_char,
        err: c_int,
        fmt: *const c_char,
    ) {
        let text = |p: *const c_char| {
            if p.is_null() {
                String::new()
            } else {
                // SAFETY: alsa-lib passes NUL-terminated strings (or null, handled above).
                unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
            }
        };
        tracing::debug!(
            "alsa-lib {}:{line} {} (err {err}): {}",
            text(file),
            text(function),
            text(fmt)
        );
    }
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: installs a handler with the fixed part of alsa-lib's signature (see above).
    ONCE.call_once(|| unsafe {
        snd_lib_error_set_handler(Some(to_log));
    });
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn route_alsa_messages_to_log() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_matching() {
        let names: Vec<String> = ["default", "HDA Intel PCH", "USB Audio Device", "USB Mic"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(pick_name(&names, "default"), Some(0));
        assert_eq!(pick_name(&names, "hda intel pch"), Some(1));
        assert_eq!(pick_name(&names, "mic"), Some(3));
        assert_eq!(pick_name(&names, "usb"), None, "ambiguous");
        assert_eq!(pick_name(&names, "nothing"), None);
    }

    #[test]
    fn summary_line() {
        let r = |channels, min_rate, max_rate, f: &str| ConfigRange {
            channels,
            min_rate,
            max_rate,
            sample_format: f.into(),
        };
        let info = DeviceInfo {
            name: "x".into(),
            kind: DeviceKind::Input,
            is_default: true,
            default_format: None,
            configs: vec![
                r(1, 8000, 48_000, "i16"),
                r(2, 8000, 48_000, "i16"),
                r(2, 44_100, 96_000, "f32"),
            ],
            error: None,
        };
        assert_eq!(info.summary(), "8000-96000 Hz, 1-2 ch, i16/f32");
        assert!(info.supports_rate(16_000));
        assert!(!info.supports_rate(192_000));
    }
}
