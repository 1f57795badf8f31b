//! clap value parsers that check a flag against its setting's entry in
//! [`voxdeck_core::bounds`], so `--runs 4294967295` is refused before anything runs, in the
//! words the config file would get.

use std::fmt::Display;
use std::str::FromStr;

use voxdeck_core::bounds::{Bound, Number};

/// Parses a `T` and checks it against `bound`.
pub fn within<T>(bound: Bound) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: FromStr + Number + Send + Sync + 'static,
    T::Err: Display,
{
    move |text: &str| {
        let value: T = text.trim().parse().map_err(|e: T::Err| e.to_string())?;
        bound.check(value).map_err(|e| e.to_string())
    }
}
