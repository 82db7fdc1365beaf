//! Why a backlog cannot be used (re-exported as `pipeline::backlog::BacklogError`).

/// Why a backlog is not valid: said to the agent when decompose asks again.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BacklogError {
    /// No YAML backlog in the answer.
    #[error("no YAML backlog was found: answer with a YAML document `items: [...]`")]
    NotFound,
    /// A backlog with no item.
    #[error("the backlog has no items")]
    NoItems,
    /// An item without a title.
    #[error("item {0} has no title")]
    NoTitle(String),
    /// An id that is not W and three to six digits.
    #[error("item id `{shown}` is not of the form W001 (W and three to six digits)")]
    BadId {
        /// The id, shortened.
        shown: String,
    },
    /// An id too long to name files.
    #[error(
        "item id `{shown}` is too long ({chars} characters; ids are W and three to six digits, like W001)"
    )]
    IdTooLong {
        /// The id, shortened.
        shown: String,
        /// Its length.
        chars: usize,
    },
    /// An id used twice.
    #[error("item id {0} is used twice")]
    DuplicateId(String),
    /// An item without an acceptance criterion.
    #[error("item {0} has no acceptance criterion")]
    NoAcceptance(String),
    /// A dependency on an item the backlog does not have.
    #[error("item {item} depends on unknown item {dependency}")]
    UnknownDependency {
        /// The item.
        item: String,
        /// What it depends on.
        dependency: String,
    },
    /// An item that depends on itself.
    #[error("item {0} depends on itself")]
    SelfDependency(String),
    /// A cycle of dependencies.
    #[error("dependency cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
}
