//! Units the configuration speaks in: durations (`48h`, `30m`, `20s`),
//! sizes (`25MB`), and cron expressions, each parsed once into a value;
//! `${NAME}` in paths; and the shape of a key's error, which every section
//! shares.

use std::time::Duration;

use super::ConfigError;

/// Builds the error for a key (the file is filled in by the caller).
pub(super) type ErrFn<'a> = dyn Fn(&str, String) -> ConfigError + 'a;

/// A duration key: `default` when unset, never zero.
pub(super) fn duration_key(
    v: Option<String>,
    default: &str,
    key: &str,
    err: &ErrFn,
) -> Result<Duration, ConfigError> {
    let s = v.unwrap_or_else(|| default.to_string());
    let d = parse_duration(&s).map_err(|p| err(key, p))?;
    if d.is_zero() {
        return Err(err(key, "must be longer than zero".into()));
    }
    Ok(d)
}

/// Expands `${NAME}` from the environment (for `${CREDENTIALS_DIRECTORY}`).
pub(super) fn expand_env(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                out.push_str(&std::env::var(&after[..end]).unwrap_or_default());
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Parses `48h`, `30m`, `20s`, `2d`, `1h30m`, `500ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("expected a duration like 48h, 30m or 20s, got {s:?}");
    let t = s.trim();
    if t.is_empty() {
        return Err(bad());
    }
    let mut total: u128 = 0;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 12 {
            return Err(bad());
        }
        let n: u128 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.chars().take_while(|c| c.is_ascii_alphabetic()).count();
        let unit = &rest[..unit_len];
        rest = rest[unit_len..].trim_start();
        let ms: u128 = match unit {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(bad()),
        };
        total += n * ms;
    }
    let ms = u64::try_from(total).map_err(|_| bad())?;
    Ok(Duration::from_millis(ms))
}

/// Parses `25MB`, `512KB`, `1GB`, `1048576` (bytes). Decimal units, as mail
/// servers count them; `MiB`/`KiB`/`GiB` are binary.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || format!("expected a size like 25MB, 512KB or 1048576, got {s:?}");
    let t = s.trim();
    let digits = t.chars().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || digits > 15 {
        return Err(bad());
    }
    let n: u64 = t[..digits].parse().map_err(|_| bad())?;
    let mult: u64 = match t[digits..].trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "KB" | "K" => 1000,
        "MB" | "M" => 1000 * 1000,
        "GB" | "G" => 1000 * 1000 * 1000,
        "KIB" => 1024,
        "MIB" => 1024 * 1024,
        "GIB" => 1024 * 1024 * 1024,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(bad)
}

/// Parses a cron expression: the common 5-field form or the 6-field form
/// with seconds first (what the `cron` crate wants; it also counts Sunday
/// as 1). Parsed once here, so nothing downstream re-parses a string.
pub fn parse_cron(expr: &str) -> Result<cron::Schedule, String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let six = match fields.len() {
        5 => format!("0 {}", fields.join(" ")),
        6 | 7 => fields.join(" "),
        n => {
            return Err(format!(
                "expected a cron expression of 5 or 6 fields, got {n} in {expr:?}"
            ))
        }
    };
    six.parse::<cron::Schedule>()
        .map_err(|e| format!("invalid cron expression {expr:?}: {e}"))
}
