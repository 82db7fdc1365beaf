//! The few OS calls orx needs that std lacks: is a pid alive, signal a process group.
#![allow(unsafe_code)]

/// True when `pid` names a live process (zombies count as dead).
pub fn pid_alive(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    #[cfg(target_os = "linux")]
    {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // The state is the field after the command name's closing parenthesis.
            Ok(stat) => !stat
                .rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with(['Z', 'X']))
                .unwrap_or(false),
            Err(_) => false,
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        // SAFETY: kill with signal 0 only checks for existence and permission.
        unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
    }
}

/// The start time of `pid` (clock ticks since boot, from /proc), to tell a reused pid apart.
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Sends `signal` to the process group `pgid`. Errors (the group is gone) are ignored.
pub fn signal_group(pgid: u32, signal: i32) {
    if pgid <= 1 {
        return;
    }
    // SAFETY: killpg has no memory-safety preconditions; a bad pgid just returns ESRCH.
    unsafe {
        libc::killpg(pgid as libc::pid_t, signal);
    }
}

/// Sends `signal` to one process. Returns false when it does not exist.
pub fn signal_pid(pid: u32, signal: i32) -> bool {
    if pid <= 1 {
        return false;
    }
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(pid as libc::pid_t, signal) == 0 }
}

/// True when any process is left in the process group `pgid`.
pub fn group_alive(pgid: u32) -> bool {
    #[cfg(target_os = "linux")]
    {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return false;
        };
        dir.flatten().any(|e| {
            let name = e.file_name();
            let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
                return false;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some((_, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // fields[0] = state, fields[2] = pgrp
            fields.len() > 2
                && !fields[0].starts_with(['Z', 'X'])
                && fields[2].parse::<u32>().ok() == Some(pgid)
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        // SAFETY: killpg with signal 0 only checks for existence.
        unsafe { libc::killpg(pgid as libc::pid_t, 0) == 0 }
    }
}

/// SIGTERM.
pub const SIGTERM: i32 = libc::SIGTERM;
/// SIGKILL.
pub const SIGKILL: i32 = libc::SIGKILL;
/// SIGINT.
pub const SIGINT: i32 = libc::SIGINT;
