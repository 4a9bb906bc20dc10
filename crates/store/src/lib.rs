//! flsdb store
