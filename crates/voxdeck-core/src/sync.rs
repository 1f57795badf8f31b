//! Lock helpers shared by the engine's threads and the app's.

use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, carrying on with the data if a panicking thread poisoned it: every mutex this
/// is used on holds plain data that each writer leaves consistent.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
