//! Vital signs in SI units, as a clinician records them in an encounter.
//!
//! Each value has two ranges. Outside the *possible* range it cannot be a
//! measurement of a living patient (a typing slip: 1200 for 120, °F for °C)
//! and is refused. Outside the *usual* range it is possible but rare (an
//! SpO2 of 62 % in an emergency is real), so it is kept only once the
//! clinician confirms it. BMI is derived from weight and height, never typed.

use crate::error::{ClinicError, ClinicResult, FieldErrors};
use serde::{Deserialize, Serialize};

/// A set of vital signs; any may be missing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Vitals {
    /// Blood pressure, mmHg.
    pub systolic_mmhg: Option<u16>,
    pub diastolic_mmhg: Option<u16>,
    /// Heart rate, beats per minute.
    pub pulse_bpm: Option<u16>,
    /// Body temperature, °C, one decimal.
    pub temperature_c: Option<f64>,
    /// Oxygen saturation, %.
    pub spo2_pct: Option<u16>,
    /// Body weight, kg, one decimal.
    pub weight_kg: Option<f64>,
    /// Height, cm, one decimal.
    pub height_cm: Option<f64>,
    /// Body-mass index, kg/m², one decimal: derived, never typed.
    pub bmi: Option<f64>,
}

/// A value's possible range (outside: refused) and usual range (outside:
/// kept once confirmed), both inclusive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranges {
    pub field: &'static str,
    pub what: &'static str,
    pub unit: &'static str,
    pub possible: (f64, f64),
    pub usual: (f64, f64),
}

/// The ranges of each measured value (adults and children alike: a value
/// usual for an infant is not refused for being unusual in an adult).
pub const RANGES: [Ranges; 7] = [
    Ranges {
        field: "systolic_mmhg",
        what: "systolic pressure",
        unit: "mmHg",
        possible: (40.0, 300.0),
        usual: (70.0, 200.0),
    },
    Ranges {
        field: "diastolic_mmhg",
        what: "diastolic pressure",
        unit: "mmHg",
        possible: (20.0, 200.0),
        usual: (40.0, 120.0),
    },
    Ranges {
        field: "pulse_bpm",
        what: "pulse",
        unit: "/min",
        possible: (20.0, 300.0),
        usual: (40.0, 180.0),
    },
    Ranges {
        field: "temperature_c",
        what: "temperature",
        unit: "°C",
        possible: (25.0, 45.0),
        usual: (34.0, 41.0),
    },
    Ranges {
        field: "spo2_pct",
        what: "SpO2",
        unit: "%",
        possible: (30.0, 100.0),
        usual: (90.0, 100.0),
    },
    Ranges {
        field: "weight_kg",
        what: "weight",
        unit: "kg",
        possible: (0.3, 500.0),
        usual: (1.0, 250.0),
    },
    Ranges {
        field: "height_cm",
        what: "height",
        unit: "cm",
        possible: (20.0, 272.0),
        usual: (40.0, 230.0),
    },
];

/// A value outside its usual range, to be confirmed before it is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unusual {
    pub field: String,
    pub message: String,
}

fn tenth(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

impl Vitals {
    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.measured().iter().all(|(_, v)| v.is_none())
    }

    fn measured(&self) -> [(&'static str, Option<f64>); 7] {
        [
            ("systolic_mmhg", self.systolic_mmhg.map(f64::from)),
            ("diastolic_mmhg", self.diastolic_mmhg.map(f64::from)),
            ("pulse_bpm", self.pulse_bpm.map(f64::from)),
            ("temperature_c", self.temperature_c),
            ("spo2_pct", self.spo2_pct.map(f64::from)),
            ("weight_kg", self.weight_kg),
            ("height_cm", self.height_cm),
        ]
    }

    /// Checks and normalises the values: decimals to one place, BMI derived
    /// (whatever was given for it). Impossible values and a blood pressure
    /// given by half are refused (`VALIDATION`, each field named). Unusual
    /// values come back to be confirmed; with `confirmed` they are kept.
    pub fn checked(&self, confirmed: bool) -> ClinicResult<(Vitals, Vec<Unusual>)> {
        let mut errs = FieldErrors::default();
        let mut unusual = Vec::new();
        for ((field, value), r) in self.measured().into_iter().zip(RANGES) {
            debug_assert_eq!(field, r.field);
            let Some(v) = value else { continue };
            if !v.is_finite() || v < r.possible.0 || v > r.possible.1 {
                errs.add(
                    field,
                    format!(
                        "{} of {v} {} is not possible (between {} and {})",
                        r.what, r.unit, r.possible.0, r.possible.1
                    ),
                );
            } else if v < r.usual.0 || v > r.usual.1 {
                unusual.push(Unusual {
                    field: field.to_string(),
                    message: format!(
                        "{} of {v} {} is outside the usual {} to {}: confirm it was measured so",
                        r.what, r.unit, r.usual.0, r.usual.1
                    ),
                });
            }
        }
        match (self.systolic_mmhg, self.diastolic_mmhg) {
            (Some(s), Some(d)) if d >= s => {
                errs.add("diastolic_mmhg", "must be lower than the systolic pressure")
            }
            (Some(_), None) | (None, Some(_)) => errs.add(
                "diastolic_mmhg",
                "give the blood pressure as both values, e.g. 120/80",
            ),
            _ => {}
        }
        errs.into_result()?;
        let mut out = *self;
        out.temperature_c = self.temperature_c.map(tenth);
        out.weight_kg = self.weight_kg.map(tenth);
        out.height_cm = self.height_cm.map(tenth);
        out.bmi = match (out.weight_kg, out.height_cm) {
            (Some(w), Some(h)) => Some(tenth(w / (h / 100.0).powi(2))),
            _ => None,
        };
        if confirmed {
            unusual.clear();
        }
        Ok((out, unusual))
    }
}

/// Reads a blood pressure as typed: `120/80`.
pub fn parse_blood_pressure(text: &str) -> ClinicResult<(u16, u16)> {
    let bad = || {
        ClinicError::field(
            "bp",
            "give the blood pressure as systolic/diastolic, e.g. 120/80",
        )
    };
    let (s, d) = text.trim().split_once('/').ok_or_else(bad)?;
    Ok((
        s.trim().parse().map_err(|_| bad())?,
        d.trim().parse().map_err(|_| bad())?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    fn usual() -> Vitals {
        Vitals {
            systolic_mmhg: Some(120),
            diastolic_mmhg: Some(80),
            pulse_bpm: Some(72),
            temperature_c: Some(36.84),
            spo2_pct: Some(98),
            weight_kg: Some(70.0),
            height_cm: Some(175.0),
            bmi: Some(99.0),
        }
    }

    #[test]
    fn usual_values_are_kept_rounded_and_bmi_is_derived() {
        let (v, unusual) = usual().checked(false).unwrap();
        assert!(unusual.is_empty());
        assert_eq!(v.temperature_c, Some(36.8));
        assert_eq!(v.bmi, Some(22.9), "70 kg / 1.75 m², not what was typed");
        let no_height = Vitals {
            height_cm: None,
            ..usual()
        };
        assert_eq!(no_height.checked(false).unwrap().0.bmi, None);
        assert!(Vitals::default().is_empty() && !usual().is_empty());
    }

    #[test]
    fn impossible_values_are_refused_naming_each_field() {
        for (bad, field) in [
            (
                Vitals {
                    systolic_mmhg: Some(1200),
                    ..usual()
                },
                "systolic_mmhg",
            ),
            (
                Vitals {
                    temperature_c: Some(98.6),
                    ..usual()
                },
                "temperature_c",
            ),
            (
                Vitals {
                    spo2_pct: Some(101),
                    ..usual()
                },
                "spo2_pct",
            ),
            (
                Vitals {
                    pulse_bpm: Some(0),
                    ..usual()
                },
                "pulse_bpm",
            ),
            (
                Vitals {
                    weight_kg: Some(f64::NAN),
                    ..usual()
                },
                "weight_kg",
            ),
            (
                Vitals {
                    height_cm: Some(1.75),
                    ..usual()
                },
                "height_cm",
            ),
            (
                Vitals {
                    diastolic_mmhg: Some(130),
                    ..usual()
                },
                "diastolic_mmhg",
            ),
            (
                Vitals {
                    diastolic_mmhg: None,
                    ..usual()
                },
                "diastolic_mmhg",
            ),
        ] {
            let e = bad.checked(true).unwrap_err();
            assert_eq!(e.code, ErrorCode::Validation);
            assert!(e.fields.iter().any(|f| f.field == field), "{field}: {e:?}");
        }
    }

    #[test]
    fn unusual_values_need_a_confirmation_and_are_kept_with_one() {
        let emergency = Vitals {
            spo2_pct: Some(62),
            pulse_bpm: Some(190),
            ..usual()
        };
        let (_, unusual) = emergency.checked(false).unwrap();
        let fields: Vec<&str> = unusual.iter().map(|u| u.field.as_str()).collect();
        assert_eq!(fields, vec!["pulse_bpm", "spo2_pct"]);
        assert!(
            unusual[1].message.contains("62 %"),
            "{}",
            unusual[1].message
        );
        let (kept, left) = emergency.checked(true).unwrap();
        assert!(left.is_empty());
        assert_eq!(kept.spo2_pct, Some(62));
    }

    #[test]
    fn blood_pressure_reads_as_typed() {
        assert_eq!(parse_blood_pressure(" 120 / 80 ").unwrap(), (120, 80));
        for bad in ["120", "120/", "a/b", "120-80", ""] {
            assert_eq!(
                parse_blood_pressure(bad).unwrap_err().code,
                ErrorCode::Validation,
                "{bad}"
            );
        }
    }
}
