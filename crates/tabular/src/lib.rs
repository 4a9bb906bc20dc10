//! flsdb tabular
