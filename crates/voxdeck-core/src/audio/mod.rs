//! Audio in and out: WAV files, resampling, microphone capture, speaker playback.

/// Interleaved f32 samples in [-1, 1] at a sample rate, with a channel count.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioBuffer {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    pub channels: u16,
}

impl AudioBuffer {
    /// Length in seconds.
    pub fn duration_s(&self) -> f64 {
        if self.sample_rate == 0 || self.channels == 0 {
            return 0.0;
        }
        self.samples.len() as f64 / (f64::from(self.sample_rate) * f64::from(self.channels))
    }
}
