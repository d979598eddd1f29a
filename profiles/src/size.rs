//! Byte sizes such as `"512MiB"`.

const UNITS: &[(&str, u64)] = &[
    ("", 1),
    ("B", 1),
    ("k", 1 << 10),
    ("K", 1 << 10),
    ("KiB", 1 << 10),
    ("M", 1 << 20),
    ("MiB", 1 << 20),
    ("G", 1 << 30),
    ("GiB", 1 << 30),
    ("T", 1 << 40),
    ("TiB", 1 << 40),
];

/// Parses a byte size: a whole number optionally followed by a unit. Units are binary:
/// `B`; `k`, `K`, `KiB` = 1024; `M`, `MiB` = 1024²; `G`, `GiB` = 1024³; `T`, `TiB` = 1024⁴.
/// Decimal-looking units (`KB`, `MB`, `GB`) are refused rather than guessed.
/// Range checks (no zero, no absurd sizes) are up to the caller, which knows the field.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(digits_end);
    if number.is_empty() {
        return Err("a size is a whole number with an optional unit, like \"512MiB\" or \"2GiB\"".into());
    }
    if unit.starts_with('.') {
        return Err("sizes are whole numbers; use a smaller unit, like \"1536MiB\" instead of \"1.5GiB\"".into());
    }
    let unit = unit.trim_start();
    let Some(&(_, factor)) = UNITS.iter().find(|(name, _)| *name == unit) else {
        let upper = unit.to_ascii_uppercase();
        if ["KB", "MB", "GB", "TB"].contains(&upper.as_str()) {
            let binary = format!("{}iB", &upper[..1]);
            return Err(format!("unit \"{unit}\" is ambiguous; sizes are binary, write \"{binary}\""));
        }
        return Err(format!("unknown unit \"{unit}\"; use B, KiB, MiB, GiB or TiB, like \"512MiB\""));
    };
    number.parse::<u64>().ok().and_then(|n| n.checked_mul(factor)).ok_or_else(|| "size is too large".to_string())
}

/// `2147483648` -> `"2GiB"`, for messages and `explain`: the largest unit that divides exactly.
pub fn format_size(bytes: u64) -> String {
    for (unit, factor) in [("TiB", 1u64 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= factor && bytes % factor == 0 {
            return format!("{}{unit}", bytes / factor);
        }
    }
    format!("{bytes}B")
}
