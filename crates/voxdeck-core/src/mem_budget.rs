//! Memory estimates and the fit check made before loading a model (being written).
