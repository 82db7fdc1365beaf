//! orx.yaml: the types with their defaults, loading with precise diagnostics, and routing.

mod interp;
mod load;
mod routing;
mod types;

pub use interp::{IString, interpolate};
pub use load::{ConfigError, LoadedConfig, load_file, load_str, nearest as load_nearest};
pub use routing::{Overrides, ROLES, Route, RoutingTable, StageOverride, resolve_routing};
pub use types::*;
