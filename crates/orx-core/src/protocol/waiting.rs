//! How a person continues a run that waits (SPEC §16): approving it (with what they add to its
//! budget) or rejecting the stage's result with feedback. The checks live here, on the state,
//! so the CLI and the dashboard refuse the same requests for the same reasons, each in its own
//! words.

use super::{BudgetRaise, RunState, RunStatus, WaitReason};

/// What a person asks of a waiting run.
#[derive(Clone, Debug, PartialEq)]
pub enum Continue {
    /// Go on, with this added to the run's budget.
    Approve(BudgetRaise),
    /// Run the waiting stage again with this feedback in its prompt.
    Reject(String),
}

/// A person's decision on a stage's result that waits for approval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Go on.
    Approve,
    /// Run the stage again with this feedback in its prompt.
    Reject(String),
}

/// Why a request to continue a run is refused.
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    /// The run does not wait.
    NotWaiting(RunStatus),
    /// It waits for its budget, and nothing was added to it.
    NeedsRaise {
        /// The limit reached, in words.
        why: Option<String>,
    },
    /// A rejection, but the run waits for no approval.
    NoApproval,
    /// The stage waiting for approval cannot be run again with feedback.
    NoFeedback {
        /// The stage.
        stage: String,
    },
    /// A rejection without feedback.
    EmptyFeedback,
}

impl RunState {
    /// Whether `how` can continue this run, and the decision it makes on the stage that waits
    /// for approval (none when the run waits for its budget).
    pub fn decide(&self, how: &Continue) -> Result<Option<Decision>, Refusal> {
        if self.status != RunStatus::Waiting {
            return Err(Refusal::NotWaiting(self.status));
        }
        match how {
            Continue::Approve(raise) => {
                if self.waiting == Some(WaitReason::Budget) && raise.is_zero() {
                    return Err(Refusal::NeedsRaise {
                        why: self.waiting_for.clone(),
                    });
                }
                Ok((self.waiting == Some(WaitReason::Approval)).then_some(Decision::Approve))
            }
            Continue::Reject(feedback) => {
                let Some(stage) = self.approval.clone() else {
                    return Err(Refusal::NoApproval);
                };
                if !self.rejectable {
                    return Err(Refusal::NoFeedback { stage });
                }
                if feedback.trim().is_empty() {
                    return Err(Refusal::EmptyFeedback);
                }
                Ok(Some(Decision::Reject(feedback.clone())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(reason: WaitReason, approval: Option<&str>, rejectable: bool) -> RunState {
        let mut s = RunState::new("r", "standard", &["plan".into(), "spec".into()]);
        s.status = RunStatus::Waiting;
        s.waiting = Some(reason);
        s.waiting_for = Some("the limit".into());
        s.approval = approval.map(String::from);
        s.rejectable = rejectable;
        s
    }

    #[test]
    fn each_request_is_decided_or_refused_for_its_reason() {
        let raise = BudgetRaise {
            usd: 1.0,
            tokens: 0,
        };
        let approve = Continue::Approve(BudgetRaise::default());
        let budget = waiting(WaitReason::Budget, None, false);
        assert_eq!(
            budget.decide(&approve),
            Err(Refusal::NeedsRaise {
                why: Some("the limit".into())
            })
        );
        assert_eq!(budget.decide(&Continue::Approve(raise)), Ok(None));
        assert_eq!(
            budget.decide(&Continue::Reject("x".into())),
            Err(Refusal::NoApproval)
        );
        let plan = waiting(WaitReason::Approval, Some("plan"), true);
        assert_eq!(plan.decide(&approve), Ok(Some(Decision::Approve)));
        assert_eq!(
            plan.decide(&Continue::Reject("shorter".into())),
            Ok(Some(Decision::Reject("shorter".into())))
        );
        assert_eq!(
            plan.decide(&Continue::Reject(" \n".into())),
            Err(Refusal::EmptyFeedback)
        );
        let ship = waiting(WaitReason::Approval, Some("ship"), false);
        assert_eq!(
            ship.decide(&Continue::Reject("no".into())),
            Err(Refusal::NoFeedback {
                stage: "ship".into()
            })
        );
        let mut done = plan.clone();
        done.status = RunStatus::Failed;
        assert_eq!(
            done.decide(&approve),
            Err(Refusal::NotWaiting(RunStatus::Failed))
        );
    }
}
