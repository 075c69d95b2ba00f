//! sipwire's one logger: structured lines on stderr, off unless asked for.
//!
//! `SIPWIRE_LOG=error|warn|info|debug|trace` sets the level; `DEBUG=sipwire*`
//! (the `debug` package's convention, comma-separated patterns, `*` wildcards)
//! turns on `debug` for users who already use it. Each line names the
//! connection the I/O thread was working on when it was written:
//!
//! ```text
//! sipwire WARN pc=3 sipwire::peer: iceTransportPolicy "relay": ...
//! ```
//!
//! Warnings that an application must be able to act on are *also* delivered
//! as `warning` events with a stable code; the log is for people.
//!
//! ```
//! use sipwire::logger::level_from_env;
//! assert_eq!(level_from_env(Some("debug"), None), log::LevelFilter::Debug);
//! assert_eq!(level_from_env(None, Some("express,sipwire*")), log::LevelFilter::Debug);
//! assert_eq!(level_from_env(None, None), log::LevelFilter::Off);
//! ```

use log::{LevelFilter, Log, Metadata, Record};
use std::cell::Cell;
use std::io::Write;
use std::sync::Once;

thread_local! {
    /// The connection whose work the current thread is doing (0 = none).
    static CONN: Cell<u64> = const { Cell::new(0) };
}

/// Run `f` with log lines attributed to connection `id`.
pub fn with_conn<R>(id: u64, f: impl FnOnce() -> R) -> R {
    let prev = CONN.with(|c| c.replace(id));
    let r = f();
    CONN.with(|c| c.set(prev));
    r
}

/// The level that `SIPWIRE_LOG` and `DEBUG` ask for; `SIPWIRE_LOG` wins.
pub fn level_from_env(sipwire_log: Option<&str>, debug: Option<&str>) -> LevelFilter {
    if let Some(v) = sipwire_log.map(str::trim).filter(|v| !v.is_empty()) {
        return match v.to_ascii_lowercase().as_str() {
            "off" | "0" | "none" => LevelFilter::Off,
            "error" => LevelFilter::Error,
            "warn" | "warning" => LevelFilter::Warn,
            "info" => LevelFilter::Info,
            "debug" => LevelFilter::Debug,
            "trace" | "all" => LevelFilter::Trace,
            // An unknown value still means "I want logs": warn is the safe middle.
            _ => LevelFilter::Warn,
        };
    }
    let wanted = debug.is_some_and(|d| {
        let pats = || d.split([',', ' ']).map(str::trim).filter(|p| !p.is_empty());
        let excluded = pats().any(|p| {
            p.strip_prefix('-')
                .is_some_and(|p| glob_matches(p, "sipwire"))
        });
        !excluded && pats().any(|p| glob_matches(p, "sipwire"))
    });
    if wanted {
        LevelFilter::Debug
    } else {
        LevelFilter::Off
    }
}

/// `debug`-style pattern match where `*` matches any run of characters.
fn glob_matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            let Some(rest) = name.strip_prefix(head) else {
                return false;
            };
            // `*` may match nothing or anything; try every split.
            (0..=rest.len()).any(|i| rest.is_char_boundary(i) && glob_matches(tail, &rest[i..]))
        }
    }
}

struct StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        // Dependencies (rtc and its crates) are noisy at debug; their warnings still show.
        metadata.level() <= log::max_level()
            && (metadata.target().starts_with("sipwire") || metadata.level() <= log::Level::Warn)
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let conn = CONN.with(|c| c.get());
        let mut line = format!("sipwire {} ", record.level());
        if conn != 0 {
            line.push_str(&format!("pc={conn} "));
        }
        line.push_str(&format!("{}: {}\n", record.target(), record.args()));
        // One write per line so lines from several I/O threads do not interleave.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

static LOGGER: StderrLogger = StderrLogger;
static INIT: Once = Once::new();

/// Install the logger once per process at the level the environment asks for.
/// Does nothing when another `log` backend is already installed.
pub fn init_from_env() {
    INIT.call_once(|| {
        let level = level_from_env(
            std::env::var("SIPWIRE_LOG").ok().as_deref(),
            std::env::var("DEBUG").ok().as_deref(),
        );
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(level);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_from_sipwire_log() {
        for (v, want) in [
            ("error", LevelFilter::Error),
            ("WARN", LevelFilter::Warn),
            ("info", LevelFilter::Info),
            ("trace", LevelFilter::Trace),
            ("off", LevelFilter::Off),
            ("bogus", LevelFilter::Warn),
        ] {
            assert_eq!(level_from_env(Some(v), None), want, "{v}");
        }
        // SIPWIRE_LOG wins over DEBUG.
        assert_eq!(
            level_from_env(Some("error"), Some("sipwire")),
            LevelFilter::Error
        );
    }

    #[test]
    fn debug_convention_patterns() {
        assert_eq!(level_from_env(None, Some("sipwire")), LevelFilter::Debug);
        assert_eq!(level_from_env(None, Some("*")), LevelFilter::Debug);
        assert_eq!(level_from_env(None, Some("sip*")), LevelFilter::Debug);
        assert_eq!(level_from_env(None, Some("express:*")), LevelFilter::Off);
        assert_eq!(level_from_env(None, Some("-sipwire")), LevelFilter::Off);
        assert_eq!(level_from_env(None, Some("*,-sipwire")), LevelFilter::Off);
        assert_eq!(level_from_env(None, Some("")), LevelFilter::Off);
    }

    #[test]
    fn conn_id_is_scoped() {
        with_conn(7, || {
            assert_eq!(CONN.with(|c| c.get()), 7);
            with_conn(9, || assert_eq!(CONN.with(|c| c.get()), 9));
            assert_eq!(CONN.with(|c| c.get()), 7);
        });
        assert_eq!(CONN.with(|c| c.get()), 0);
    }
}
