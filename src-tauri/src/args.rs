//! The command line. tauri-driver passes `args` from the WebDriver capabilities through, so the
//! E2E tests start the app as `voxdeck-app --input q.wav --output out.wav`.

use std::path::{Path, PathBuf};

use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "voxdeck-app", version, about = "voxdeck's desktop control panel")]
pub struct Args {
    /// Config file (default: $VOXDECK_CONFIG, else $XDG_CONFIG_HOME/voxdeck/config.toml).
    /// Settings changed in the panel are saved to it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Push-to-talk hears this WAV file instead of the microphone.
    #[arg(long, value_name = "WAV")]
    pub input: Option<PathBuf>,

    /// Spoken answers are written to this WAV file instead of the speaker.
    #[arg(long, value_name = "WAV")]
    pub output: Option<PathBuf>,

    /// Don't load the models at start (the panel's Load button does it later).
    #[arg(long)]
    pub no_load: bool,
}

impl Args {
    /// Relative paths made absolute against the directory the app was started in, so that
    /// nothing depends on the working directory later.
    pub fn absolutized(mut self) -> std::io::Result<Args> {
        fn abs(path: &mut Option<PathBuf>) -> std::io::Result<()> {
            if let Some(p) = path.as_deref().map(Path::to_owned) {
                *path = Some(std::path::absolute(p)?);
            }
            Ok(())
        }
        abs(&mut self.config)?;
        abs(&mut self.input)?;
        abs(&mut self.output)?;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_test_arguments() {
        let args =
            Args::try_parse_from(["voxdeck-app", "--input", "q.wav", "--output", "out.wav", "--no-load"]).unwrap();
        assert_eq!(args.input.as_deref(), Some(Path::new("q.wav")));
        assert_eq!(args.output.as_deref(), Some(Path::new("out.wav")));
        assert!(args.no_load);
        assert!(args.config.is_none());
        let args = args.absolutized().unwrap();
        assert!(args.input.unwrap().is_absolute());
    }

    #[test]
    fn loads_by_default() {
        let args = Args::try_parse_from(["voxdeck-app"]).unwrap();
        assert!(!args.no_load);
    }
}
