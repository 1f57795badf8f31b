//! Turn history in SQLite (being written).
