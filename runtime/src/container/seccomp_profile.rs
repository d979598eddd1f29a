//! The jail's seccomp deny list as an engine seccomp profile (the JSON `docker run
//! --security-opt seccomp=FILE` takes). Pure: the same policy data, a second encoding.
//!
//! Only x86_64 is listed, so i386 (`int 0x80`) and x32 numbers hit libseccomp's bad-arch
//! action (kill), like the jail's arch check. The in-container init installs the jail's own
//! BPF on top, so where the JSON cannot say something exactly it errs on the strict side.

use crate::plan::{ArgMatch, SeccompPolicy};
use serde_json::{json, Value};

const EPERM: u32 = 1;
const ENOSYS: u32 = 38;

/// The engine profile for `policy`.
pub fn engine_profile(policy: &SeccompPolicy) -> Value {
    let mut rules = Vec::new();
    for d in &policy.deny {
        for args in conditions(&d.when) {
            let mut rule = json!({ "names": [d.name], "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM });
            if !args.is_empty() {
                rule["args"] = Value::Array(args);
            }
            rules.push(rule);
        }
    }
    for (name, _) in &policy.enosys {
        rules.push(json!({ "names": [name], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS }));
    }
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": rules,
    })
}

/// One argument list per rule; the rules for one syscall are alternatives (OR), the
/// conditions inside a rule all hold (AND).
fn conditions(when: &ArgMatch) -> Vec<Vec<Value>> {
    let cmp = |index: u8, op: &str, value: u64, value_two: u64| json!({ "index": index, "op": op, "value": value, "valueTwo": value_two });
    match when {
        ArgMatch::Always => vec![vec![]],
        // "any of these bits": one rule per bit, (arg & bit) == bit.
        ArgMatch::AnyBitsSet { index, mask } => (0..64)
            .map(|b| 1u64 << b)
            .filter(|bit| mask & bit != 0)
            .map(|bit| vec![cmp(*index, "SCMP_CMP_MASKED_EQ", bit, bit)])
            .collect(),
        // The low 32 bits only, as the kernel reads an `unsigned int` request.
        ArgMatch::Low32Equals { index, values } => {
            values.iter().map(|v| vec![cmp(*index, "SCMP_CMP_MASKED_EQ", 0xffff_ffff, *v)]).collect()
        }
        // "none of these values": the JSON has no masked not-equal, so compare all 64 bits,
        // which denies a superset (a value with upper bits set is denied too).
        ArgMatch::Low32NotIn { index, values } => match values.as_slice() {
            [] => vec![vec![]],
            [lo, hi] if lo < hi => {
                let mut rules = vec![
                    vec![cmp(*index, "SCMP_CMP_GT", *lo, 0), cmp_lt(*index, *hi)],
                    vec![cmp(*index, "SCMP_CMP_GT", *hi, 0)],
                ];
                if *lo > 0 {
                    rules.push(vec![cmp_lt(*index, *lo)]);
                }
                rules
            }
            _ => vec![vec![]],
        },
    }
}

fn cmp_lt(index: u8, value: u64) -> Value {
    json!({ "index": index, "op": "SCMP_CMP_LT", "value": value, "valueTwo": 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_denied_syscall_is_in_the_profile() {
        let policy = SeccompPolicy::default_deny();
        let profile = engine_profile(&policy);
        let rules = profile["syscalls"].as_array().unwrap();
        for d in &policy.deny {
            assert!(rules.iter().any(|r| r["names"][0] == d.name), "{} missing", d.name);
        }
        assert_eq!(profile["architectures"], json!(["SCMP_ARCH_X86_64"]));
        assert_eq!(profile["defaultAction"], "SCMP_ACT_ALLOW");
    }

    #[test]
    fn namespace_flags_become_one_rule_per_bit() {
        let rules = conditions(&ArgMatch::AnyBitsSet { index: 0, mask: 0b1010 });
        assert_eq!(
            rules,
            vec![
                vec![json!({"index": 0, "op": "SCMP_CMP_MASKED_EQ", "value": 2, "valueTwo": 2})],
                vec![json!({"index": 0, "op": "SCMP_CMP_MASKED_EQ", "value": 8, "valueTwo": 8})],
            ]
        );
    }

    #[test]
    fn ioctl_requests_compare_the_low_32_bits() {
        let rules = conditions(&ArgMatch::Low32Equals { index: 1, values: vec![0x5412] });
        assert_eq!(
            rules,
            vec![vec![json!({"index": 1, "op": "SCMP_CMP_MASKED_EQ", "value": 0xffff_ffffu64, "valueTwo": 0x5412})]]
        );
    }

    #[test]
    fn personality_outside_the_two_allowed_values_is_denied() {
        let rules = conditions(&ArgMatch::Low32NotIn { index: 0, values: vec![0, 0xffff_ffff] });
        // (0 < x < 0xffffffff) or (x > 0xffffffff): only 0 and 0xffffffff pass.
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0][0]["op"], "SCMP_CMP_GT");
        assert_eq!(rules[0][1]["op"], "SCMP_CMP_LT");
        assert_eq!(rules[1][0]["value"], 0xffff_ffffu64);
    }

    #[test]
    fn clone3_gets_enosys() {
        let profile = engine_profile(&SeccompPolicy::default_deny());
        let rule = profile["syscalls"].as_array().unwrap().iter().find(|r| r["names"][0] == "clone3").cloned();
        assert_eq!(rule.map(|r| r["errnoRet"].clone()), Some(json!(ENOSYS)));
    }
}
