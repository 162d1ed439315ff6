//! Kubernetes resource quantities (`500m`, `1Gi`, `1.5e3`), compared by value.

use std::cmp::Ordering;
use std::fmt;

/// A resource quantity as the Kubernetes API reads it, reduced to an exact decimal
/// `mantissa × 10^exponent` so that every spelling of one value compares equal: `"500m"`,
/// `"0.5"` and `0.5`; `"1Gi"` and `"1024Mi"`; `"1k"` and `"1e3"`.
///
/// ```
/// use converge_diff::Quantity;
///
/// let q = |s: &str| s.parse::<Quantity>().unwrap();
/// assert_eq!(q("500m"), q("0.5"));
/// assert_eq!(q("1Gi"), q("1024Mi"));
/// assert_eq!(q("1k"), q("1e3"));
/// assert_eq!(q("2"), Quantity::from_f64(2.0).unwrap());
/// assert!(q("100Mi") < q("1Gi"));
/// assert!("ten".parse::<Quantity>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quantity {
    /// Significant digits with no trailing zeros (0 for zero).
    mantissa: i128,
    /// Power of ten the mantissa is scaled by.
    exponent: i32,
}

/// Why a string is not a quantity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantityError(String);

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a quantity", self.0)
    }
}

impl std::error::Error for QuantityError {}

impl Quantity {
    fn new(mut mantissa: i128, mut exponent: i32) -> Quantity {
        if mantissa == 0 {
            return Quantity {
                mantissa: 0,
                exponent: 0,
            };
        }
        while mantissa % 10 == 0 {
            mantissa /= 10;
            exponent += 1;
        }
        Quantity { mantissa, exponent }
    }

    /// The quantity a JSON number stands for; `None` for numbers too precise or too large to
    /// hold exactly.
    pub fn from_f64(value: f64) -> Option<Quantity> {
        if !value.is_finite() {
            return None;
        }
        // The shortest decimal that reads back as `value`, then parsed exactly.
        format!("{value:e}").parse().ok()
    }

    /// The quantity of a JSON value: a number, or a string holding a quantity.
    pub fn from_json(value: &serde_json::Value) -> Option<Quantity> {
        match value {
            serde_json::Value::String(s) => s.parse().ok(),
            serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Some(Quantity::new(i128::from(i), 0)),
                (None, Some(u)) => Some(Quantity::new(i128::from(u), 0)),
                _ => n.as_f64().and_then(Quantity::from_f64),
            },
            _ => None,
        }
    }
}

impl std::str::FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(text: &str) -> Result<Quantity, QuantityError> {
        let err = || QuantityError(text.to_owned());
        let (sign, rest) = match text.as_bytes().first() {
            Some(b'-') => (-1, &text[1..]),
            Some(b'+') => (1, &text[1..]),
            _ => (1, text),
        };
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(number_end);
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(err());
        }
        let digits: String = [int_part, frac_part].concat();
        if digits.len() > 36 {
            return Err(err()); // beyond exact i128 arithmetic; Kubernetes caps precision too
        }
        let mut mantissa: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| err())?
        };
        let mut exponent = -(frac_part.len() as i32);
        match suffix {
            "" => {}
            "n" => exponent -= 9,
            "u" => exponent -= 6,
            "m" => exponent -= 3,
            "k" => exponent += 3,
            "M" => exponent += 6,
            "G" => exponent += 9,
            "T" => exponent += 12,
            "P" => exponent += 15,
            "E" => exponent += 18,
            "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => {
                let power = match suffix {
                    "Ki" => 1,
                    "Mi" => 2,
                    "Gi" => 3,
                    "Ti" => 4,
                    "Pi" => 5,
                    _ => 6,
                };
                mantissa = mantissa.checked_mul(1024_i128.pow(power)).ok_or_else(err)?;
            }
            exp if exp.starts_with(['e', 'E']) => {
                let e: i32 = exp[1..].parse().map_err(|_| err())?;
                exponent = exponent.checked_add(e).ok_or_else(err)?;
            }
            _ => return Err(err()),
        }
        Ok(Quantity::new(sign * mantissa, exponent))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Quantity) -> Ordering {
        // Compare a×10^x with b×10^y by scaling the one with the larger exponent down to the
        // other; fall back to floating point when that would overflow.
        let (a, x, b, y) = (self.mantissa, self.exponent, other.mantissa, other.exponent);
        if a.signum() != b.signum() {
            return a.signum().cmp(&b.signum());
        }
        let scaled = if x >= y {
            10_i128
                .checked_pow((x - y) as u32)
                .and_then(|p| a.checked_mul(p))
                .map(|a| a.cmp(&b))
        } else {
            10_i128
                .checked_pow((y - x) as u32)
                .and_then(|p| b.checked_mul(p))
                .map(|b| a.cmp(&b))
        };
        scaled.unwrap_or_else(|| {
            let f = |m: i128, e: i32| (m as f64) * 10f64.powi(e);
            f(a, x).total_cmp(&f(b, y))
        })
    }
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Quantity) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(s: &str) -> Quantity {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn spellings_of_one_value_are_equal() {
        for (a, b) in [
            ("500m", "0.5"),
            ("0.1", "100m"),
            ("1Ki", "1024"),
            ("1Gi", "1024Mi"),
            ("1.5Gi", "1536Mi"),
            ("1M", "1000k"),
            ("1e3", "1k"),
            ("1E3", "1000"),
            ("0", "0m"),
            ("+1", "1"),
            ("-1", "-1000m"),
            ("1n", "0.000000001"),
            (".5", "0.5"),
            ("5.", "5"),
            ("2e-3", "2m"),
        ] {
            assert_eq!(q(a), q(b), "{a} == {b}");
        }
        assert_ne!(q("1G"), q("1Gi"));
        assert_ne!(q("1m"), q("1M"));
    }

    #[test]
    fn json_numbers_and_strings_meet() {
        assert_eq!(Quantity::from_json(&json!(0.5)), Some(q("500m")));
        assert_eq!(Quantity::from_json(&json!(2)), Some(q("2")));
        assert_eq!(Quantity::from_json(&json!("250m")), Some(q("0.25")));
        assert_eq!(Quantity::from_json(&json!(true)), None);
    }

    #[test]
    fn order_and_refusals() {
        assert!(q("999Mi") < q("1Gi"));
        assert!(q("-1") < q("0"));
        assert!(q("1E18") > q("1Pi"));
        for bad in ["", ".", "1x", "Gi", "1.2.3", "1e", "e3", "1 Gi", "--1"] {
            assert!(bad.parse::<Quantity>().is_err(), "{bad:?}");
        }
    }
}
