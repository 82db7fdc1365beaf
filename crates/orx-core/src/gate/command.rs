//! Whether a gate's command can start at all, and what to change when it cannot: a gate that
//! cannot start is a configuration problem no agent can fix.

use std::path::Path;

use crate::config::GateConfig;

/// Why a gate's command cannot start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandProblem {
    /// `command` holds the arguments too (`command: python3 -m unittest`).
    ArgumentsInCommand {
        /// The program (the first word).
        program: String,
        /// The words after it.
        args: Vec<String>,
    },
    /// The program is neither on PATH nor a file in the worktree.
    NotFound {
        /// The program.
        program: String,
    },
    /// The program exists but the system refused to start it (permissions, a bad interpreter).
    CannotStart,
}

impl CommandProblem {
    /// The problem with `gate`'s command when run in `cwd`, None when it looks startable.
    pub fn check(gate: &GateConfig, cwd: &Path) -> Option<Self> {
        let command = gate.command.as_str();
        if found(command, cwd) {
            return None;
        }
        let mut words = command.split_whitespace();
        if let Some(program) = words.next()
            && command.trim() != program
        {
            return Some(Self::ArgumentsInCommand {
                program: program.to_string(),
                args: words.map(str::to_string).collect(),
            });
        }
        Some(Self::NotFound {
            program: command.to_string(),
        })
    }

    /// What to change, in orx.yaml's own words.
    pub fn fix(&self, gate: &GateConfig) -> String {
        let name = &gate.name;
        match self {
            Self::ArgumentsInCommand { program, args } => {
                let mut all: Vec<String> = args.clone();
                all.extend(gate.args.iter().map(|a| a.to_string()));
                format!(
                    "`command` is one program; put its arguments in `args`: gates[{name}] \
                     command: {program}, args: [{}]",
                    all.iter()
                        .map(|a| format!("\"{a}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
            Self::NotFound { program } if program.contains('/') => format!(
                "there is no file `{program}` in the worktree (is it committed?), or fix \
                 gates[{name}].command"
            ),
            Self::NotFound { program } => {
                format!("install `{program}` or fix gates[{name}].command")
            }
            Self::CannotStart => {
                format!("check that gates[{name}].command is an executable program")
            }
        }
    }
}

/// `program` is found the way the process layer will start it: a path (relative to `cwd`)
/// when it has a slash, else a file on PATH.
fn found(program: &str, cwd: &Path) -> bool {
    if program.trim().is_empty() {
        return false;
    }
    if program.contains('/') {
        return cwd.join(program).is_file();
    }
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|d| d.join(program).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(command: &str, args: &[&str]) -> GateConfig {
        let yaml = format!(
            "name: tests\ncommand: {command:?}\nargs: [{}]\n",
            args.iter()
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        crate::yaml::from_str(&yaml).unwrap()
    }

    #[test]
    fn a_command_with_its_arguments_in_it_is_named_with_the_fix() {
        let g = gate("python3 -m unittest", &["-v"]);
        let p = CommandProblem::check(&g, Path::new("/")).unwrap();
        assert_eq!(
            p,
            CommandProblem::ArgumentsInCommand {
                program: "python3".into(),
                args: vec!["-m".into(), "unittest".into()]
            }
        );
        assert_eq!(
            p.fix(&g),
            "`command` is one program; put its arguments in `args`: gates[tests] command: \
             python3, args: [\"-m\", \"unittest\", \"-v\"]"
        );
    }

    #[test]
    fn a_missing_program_and_a_present_one() {
        let missing = gate("orx-no-such-gate-tool", &[]);
        assert_eq!(
            CommandProblem::check(&missing, Path::new("/")),
            Some(CommandProblem::NotFound {
                program: "orx-no-such-gate-tool".into()
            })
        );
        assert_eq!(
            CommandProblem::check(&gate("sh", &[]), Path::new("/")),
            None
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("check.sh"), "").unwrap();
        assert_eq!(
            CommandProblem::check(&gate("./check.sh", &[]), dir.path()),
            None
        );
        assert!(CommandProblem::check(&gate("./other.sh", &[]), dir.path()).is_some());
    }
}
