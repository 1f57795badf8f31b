//! System metrics sampler (being written).
