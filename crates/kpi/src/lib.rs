//! flsdb kpi
