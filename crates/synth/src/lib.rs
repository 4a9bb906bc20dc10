//! flsdb synth
