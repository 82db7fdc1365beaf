//! YAML documents written by agents and scenario authors: read with YAML 1.2 booleans, so `y`,
//! `no` or `on` stay text instead of turning into true/false.

/// Parses `text` as `T` with YAML 1.2 core booleans.
pub fn from_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, serde_saphyr::Error> {
    let mut opts = serde_saphyr::Options::default();
    opts.strict_booleans = true;
    serde_saphyr::from_str_with_options(text, opts)
}
