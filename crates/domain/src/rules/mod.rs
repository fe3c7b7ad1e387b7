//! The per-aggregate rules: for each command kind, its `decide_…` (the kind's own preconditions,
//! after the generic checks) and its `apply_…` (the state change).

mod authority;
mod contract;
mod deal;
mod keys;
mod listing;
mod property;
mod proxy;
mod viewing;
