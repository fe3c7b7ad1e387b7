//! C2SP `tlog-policy`: which logs and witnesses a verifier trusts, and the quorum of witness
//! cosignatures (k-of-n groups, nested) a checkpoint needs before it is believed.
//!
//! ```text
//! log <vkey> [<url>]
//! witness <name> <vkey> [<url>]
//! group <name> all|any|<k> <member>...
//! quorum <name>|none
//! ```
//!
//! A group or the quorum may only name witnesses and groups defined on earlier lines, each
//! member at most once, so a policy has no cycles and no witness counts twice in one group.
//! [`Policy::check`] opens a checkpoint with the policy's log keys, verifies every cosignature,
//! and says whether the quorum holds and which witnesses signed.

use deedlog_core::checkpoint::{
    self, CosignatureStatus, OpenedCheckpoint, VerifierKey, WitnessKey,
};

use crate::error::ClientError;

/// Largest policy file accepted, in bytes.
pub const POLICY_BYTES_MAX: usize = 64 * 1024;
/// Most logs, witnesses and groups (each) a policy may define; the spec recommends at least 32.
pub const ENTRIES_MAX: usize = 64;

/// Why a policy file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The file is larger than [`POLICY_BYTES_MAX`].
    #[error("the policy is {0} bytes; at most {POLICY_BYTES_MAX} are allowed")]
    TooLarge(usize),
    /// A line breaks the syntax or the rules; the line number and why.
    #[error("line {line}: {reason}")]
    Line {
        /// The line number, from 1.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// There is no quorum line.
    #[error("the policy has no quorum line")]
    NoQuorum,
}

/// A trusted witness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyWitness {
    /// Its name in the policy.
    pub name: String,
    /// Its cosignature key.
    pub key: WitnessKey,
    /// Its submission prefix, if given.
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Member {
    Witness(usize),
    Group(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    name: String,
    k: usize,
    members: Vec<Member>,
}

/// A parsed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The trusted logs, with their URLs.
    pub logs: Vec<(VerifierKey, Option<String>)>,
    /// The trusted witnesses.
    pub witnesses: Vec<PolicyWitness>,
    groups: Vec<Group>,
    /// `None`: `quorum none`.
    quorum: Option<Member>,
}

/// What [`Policy::check`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyVerdict {
    /// The checkpoint, opened with a log key of the policy.
    pub checkpoint: OpenedCheckpoint,
    /// The witnesses whose cosignature verified, in policy order.
    pub cosigned_by: Vec<String>,
    /// The witnesses with a cosignature line that does not verify.
    pub invalid: Vec<String>,
    /// Whether the quorum holds.
    pub quorum_met: bool,
    /// When the quorum does not hold: which group (or witness) lacks signatures, in words, from
    /// the quorum down to the innermost groups that fall short.
    pub shortfall: Option<String>,
}

/// The 32 key bytes of a vkey (the last 44 characters are `base64(alg || key)`).
fn raw_key(vkey: &str) -> Option<Vec<u8>> {
    let tail = vkey.get(vkey.len().checked_sub(checkpoint::VKEY_KEY_CHARS)?..)?;
    let material = deedlog_core::keys::from_base64(tail).ok()?;
    material.get(1..).map(<[u8]>::to_vec)
}

impl Policy {
    /// Parses a policy file.
    ///
    /// # Errors
    /// [`PolicyError`], naming the line.
    pub fn parse(text: &[u8]) -> Result<Self, PolicyError> {
        if text.len() > POLICY_BYTES_MAX {
            return Err(PolicyError::TooLarge(text.len()));
        }
        let mut policy = Self {
            logs: Vec::new(),
            witnesses: Vec::new(),
            groups: Vec::new(),
            quorum: None,
        };
        let mut quorum_seen = false;
        let mut keys_seen: Vec<Vec<u8>> = Vec::new();
        for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
            let line = i + 1;
            let err = |reason: &str| PolicyError::Line {
                line,
                reason: reason.to_owned(),
            };
            if raw.iter().any(|&b| b < 0x20 && b != b'\t' || b == 0x7f) {
                return Err(err("control characters other than tab are not allowed"));
            }
            // Names are opaque octets; the tokens are split on ASCII space and tab only.
            let text = String::from_utf8_lossy(raw);
            let words: Vec<&str> = text.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
            let Some(&keyword) = words.first() else {
                continue;
            };
            if keyword.starts_with('#') {
                continue;
            }
            if quorum_seen && keyword == "quorum" {
                return Err(err("a policy has exactly one quorum line"));
            }
            let mut unique_key = |vkey: &str| -> Result<(), PolicyError> {
                let key = raw_key(vkey).ok_or_else(|| err("not a vkey"))?;
                if keys_seen.contains(&key) {
                    return Err(err("the same public key is listed twice"));
                }
                keys_seen.push(key);
                Ok(())
            };
            match (keyword, &words[1..]) {
                ("log", [vkey, rest @ ..]) if rest.len() <= 1 => {
                    let key = VerifierKey::parse(vkey).map_err(|e| err(&e.to_string()))?;
                    unique_key(vkey)?;
                    if policy.logs.len() == ENTRIES_MAX {
                        return Err(err("too many logs"));
                    }
                    policy
                        .logs
                        .push((key, rest.first().map(|s| (*s).to_owned())));
                }
                ("witness", [name, vkey, rest @ ..]) if rest.len() <= 1 => {
                    policy.check_new_name(name).map_err(|r| err(&r))?;
                    let key = WitnessKey::parse(vkey).map_err(|e| err(&e.to_string()))?;
                    unique_key(vkey)?;
                    if policy.witnesses.len() == ENTRIES_MAX {
                        return Err(err("too many witnesses"));
                    }
                    policy.witnesses.push(PolicyWitness {
                        name: (*name).to_owned(),
                        key,
                        url: rest.first().map(|s| (*s).to_owned()),
                    });
                }
                ("group", [name, threshold, members @ ..]) if !members.is_empty() => {
                    policy.check_new_name(name).map_err(|r| err(&r))?;
                    let mut resolved = Vec::new();
                    for m in members {
                        let member = policy.lookup(m).ok_or_else(|| {
                            err(&format!("{m} is not defined on an earlier line"))
                        })?;
                        if resolved.contains(&member) {
                            return Err(err(&format!("{m} is listed twice")));
                        }
                        resolved.push(member);
                    }
                    let n = resolved.len();
                    let k = match *threshold {
                        "all" => n,
                        "any" => 1,
                        k => {
                            let digits = !k.is_empty()
                                && k.bytes().all(|b| b.is_ascii_digit())
                                && !k.starts_with('0');
                            digits
                                .then(|| k.parse::<usize>().ok())
                                .flatten()
                                .filter(|k| (1..=n).contains(k))
                                .ok_or_else(|| err("the threshold must be all, any or 1 ≤ k ≤ n"))?
                        }
                    };
                    if policy.groups.len() == ENTRIES_MAX {
                        return Err(err("too many groups"));
                    }
                    policy.groups.push(Group {
                        name: (*name).to_owned(),
                        k,
                        members: resolved,
                    });
                }
                ("quorum", [name]) => {
                    quorum_seen = true;
                    policy.quorum = if *name == "none" {
                        None
                    } else {
                        Some(policy.lookup(name).ok_or_else(|| {
                            err(&format!("{name} is not defined on an earlier line"))
                        })?)
                    };
                }
                _ => return Err(err("not a log, witness, group or quorum line")),
            }
        }
        if !quorum_seen {
            return Err(PolicyError::NoQuorum);
        }
        Ok(policy)
    }

    fn check_new_name(&self, name: &str) -> Result<(), String> {
        if name == "none" {
            return Err("`none` is reserved".into());
        }
        if self.lookup(name).is_some() {
            return Err(format!("{name} is already defined"));
        }
        Ok(())
    }

    fn lookup(&self, name: &str) -> Option<Member> {
        if let Some(i) = self.witnesses.iter().position(|w| w.name == name) {
            return Some(Member::Witness(i));
        }
        self.groups
            .iter()
            .position(|g| g.name == name)
            .map(Member::Group)
    }

    fn met(&self, member: &Member, valid: &[bool]) -> bool {
        match member {
            Member::Witness(i) => valid.get(*i).copied().unwrap_or(false),
            Member::Group(g) => self
                .groups
                .get(*g)
                .is_some_and(|g| g.members.iter().filter(|m| self.met(m, valid)).count() >= g.k),
        }
    }

    fn member_name(&self, member: &Member) -> String {
        match member {
            Member::Witness(i) => self
                .witnesses
                .get(*i)
                .map_or_else(String::new, |w| w.name.clone()),
            Member::Group(g) => self
                .groups
                .get(*g)
                .map_or_else(String::new, |g| g.name.clone()),
        }
    }

    /// Says why `member` is not met: a witness that did not cosign, or a group with fewer
    /// members met than its threshold, and then, inside it, why each unmet member is not.
    fn shortfall(&self, member: &Member, valid: &[bool], out: &mut Vec<String>) {
        match member {
            Member::Witness(_) => out.push(format!(
                "witness {} has not cosigned",
                self.member_name(member)
            )),
            Member::Group(g) => {
                let Some(group) = self.groups.get(*g) else {
                    return;
                };
                let met: Vec<String> = group
                    .members
                    .iter()
                    .filter(|m| self.met(m, valid))
                    .map(|m| self.member_name(m))
                    .collect();
                out.push(format!(
                    "group {} needs {} of {} members and has {} ([{}])",
                    group.name,
                    group.k,
                    group.members.len(),
                    met.len(),
                    met.join(", ")
                ));
                for m in &group.members {
                    if matches!(m, Member::Group(_)) && !self.met(m, valid) {
                        self.shortfall(m, valid, out);
                    }
                }
            }
        }
    }

    /// Opens `note` with the policy's log keys (the one whose name is the note's origin) and
    /// evaluates the quorum over the cosignatures that verify.
    ///
    /// # Errors
    /// [`ClientError::Proof`] when no log key of the policy signed the note.
    pub fn check(&self, note: &[u8]) -> Result<PolicyVerdict, ClientError> {
        let opened = self
            .logs
            .iter()
            .find_map(|(key, _)| {
                checkpoint::open_checkpoint(note, key)
                    .ok()
                    .filter(|c| c.origin == key.name())
            })
            .ok_or_else(|| {
                ClientError::Proof("the checkpoint is not signed by a log of the policy".into())
            })?;
        let keys: Vec<WitnessKey> = self.witnesses.iter().map(|w| w.key.clone()).collect();
        let checks = checkpoint::verify_cosignatures(&opened, &keys);
        let valid: Vec<bool> = checks
            .iter()
            .map(|c| matches!(c.status, CosignatureStatus::Valid { .. }))
            .collect();
        let pick = |want: fn(&CosignatureStatus) -> bool| -> Vec<String> {
            self.witnesses
                .iter()
                .zip(&checks)
                .filter(|(_, c)| want(&c.status))
                .map(|(w, _)| w.name.clone())
                .collect()
        };
        let quorum_met = self.quorum.as_ref().is_none_or(|q| self.met(q, &valid));
        let shortfall = match &self.quorum {
            Some(q) if !quorum_met => {
                let mut why = Vec::new();
                self.shortfall(q, &valid, &mut why);
                Some(why.join("; "))
            }
            _ => None,
        };
        Ok(PolicyVerdict {
            shortfall,
            cosigned_by: pick(|s| matches!(s, CosignatureStatus::Valid { .. })),
            invalid: pick(|s| matches!(s, CosignatureStatus::Invalid)),
            quorum_met,
            checkpoint: opened,
        })
    }

    /// As [`Policy::check`], refusing a checkpoint whose quorum does not hold.
    ///
    /// # Errors
    /// [`ClientError::Proof`], saying which witnesses signed.
    pub fn require(&self, note: &[u8]) -> Result<PolicyVerdict, ClientError> {
        let verdict = self.check(note)?;
        if !verdict.quorum_met {
            return Err(ClientError::Proof(format!(
                "the checkpoint of size {} does not meet the witness quorum: {}; cosigned by: [{}]",
                verdict.checkpoint.size,
                verdict.shortfall.as_deref().unwrap_or("not met"),
                verdict.cosigned_by.join(", ")
            )));
        }
        Ok(verdict)
    }
}

/// Requires the checkpoint `note` (with its cosignature lines) to be signed by a log of
/// `policy` and to meet its witness quorum; returns who signed. The one call every verifier
/// (`deedlog verify`, `deedlog audit`, `deedlog check`, the answer checks) makes.
///
/// # Errors
/// [`ClientError::Proof`]: not a log of the policy, or the quorum does not hold (the words name
/// the group that lacks signatures and the witnesses that did sign).
pub fn require_policy(note: &str, policy: &Policy) -> Result<PolicyVerdict, ClientError> {
    policy.require(note.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use deedlog_core::SecretKey;
    use deedlog_core::hash::leaf_hash;

    fn log() -> (SecretKey, VerifierKey) {
        let secret = SecretKey::from_seed(&[1; 32]);
        let key = VerifierKey::new("log.test", secret.public()).unwrap();
        (secret, key)
    }

    fn witness(i: u8) -> (SecretKey, WitnessKey) {
        let secret = SecretKey::from_seed(&[10 + i; 32]);
        let key = WitnessKey::new(&format!("w{i}.test"), secret.public()).unwrap();
        (secret, key)
    }

    fn policy_text(quorum: &str) -> String {
        let (_, log) = log();
        let mut text = format!("# three witnesses\nlog {}\n", log.to_vkey());
        for i in 0..3 {
            text.push_str(&format!(
                "witness W{i} {} http://w{i}\n",
                witness(i).1.to_vkey()
            ));
        }
        text.push_str("group two 2 W0 W1 W2\n");
        text.push_str(&format!("  quorum\t{quorum}  \n"));
        text
    }

    fn note_cosigned_by(who: &[u8]) -> Vec<u8> {
        let (secret, _) = log();
        let mut note =
            checkpoint::sign_checkpoint("log.test", 3, leaf_hash(b"x"), &[], &secret).unwrap();
        let body = checkpoint::checkpoint_body("log.test", 3, leaf_hash(b"x"), &[]).unwrap();
        for &i in who {
            let (s, k) = witness(i);
            note.extend_from_slice(
                checkpoint::cosign(&body, k.name(), &s, 1_700_000_000)
                    .unwrap()
                    .as_bytes(),
            );
        }
        note
    }

    #[test]
    fn two_of_three_is_enforced_and_the_signers_named() {
        let policy = Policy::parse(policy_text("two").as_bytes()).unwrap();
        assert!(policy.require(&note_cosigned_by(&[])).is_err());
        let one = policy.require(&note_cosigned_by(&[1])).unwrap_err();
        assert!(one.to_string().contains("W1"), "{one}");
        assert!(
            one.to_string()
                .contains("group two needs 2 of 3 members and has 1 ([W1])"),
            "{one}"
        );
        let note = String::from_utf8(note_cosigned_by(&[0, 1])).unwrap();
        assert_eq!(
            require_policy(&note, &policy).unwrap().cosigned_by,
            vec!["W0", "W1"]
        );
        let two = policy.require(&note_cosigned_by(&[0, 2])).unwrap();
        assert_eq!(two.cosigned_by, vec!["W0", "W2"]);
        // A cosignature line by a witness that does not verify counts for nothing.
        let mut forged = note_cosigned_by(&[0]);
        let (_, k1) = witness(1);
        let (other, _) = witness(2);
        let body = checkpoint::checkpoint_body("log.test", 3, leaf_hash(b"x"), &[]).unwrap();
        forged.extend_from_slice(
            checkpoint::cosign(&body, k1.name(), &other, 1)
                .unwrap()
                .as_bytes(),
        );
        let verdict = policy.check(&forged).unwrap();
        assert!(!verdict.quorum_met);
        // `quorum none` needs no cosignature; a single witness as quorum needs that one.
        let none = Policy::parse(policy_text("none").as_bytes()).unwrap();
        assert!(none.require(&note_cosigned_by(&[])).is_ok());
        let w2 = Policy::parse(policy_text("W2").as_bytes()).unwrap();
        assert!(w2.require(&note_cosigned_by(&[0, 1])).is_err());
        assert!(w2.require(&note_cosigned_by(&[2])).is_ok());
        // A checkpoint by a log outside the policy is refused whatever its cosignatures.
        let stranger = SecretKey::from_seed(&[2; 32]);
        let note =
            checkpoint::sign_checkpoint("log.test", 3, leaf_hash(b"x"), &[], &stranger).unwrap();
        assert!(policy.check(&note).is_err());
    }

    #[test]
    fn nested_groups_follow_the_spec_example() {
        let (_, log) = log();
        let mut text = format!("log {}\n", log.to_vkey());
        for i in 0..3 {
            text.push_str(&format!("witness X{i} {}\n", witness(i).1.to_vkey()));
        }
        for i in 3..6 {
            text.push_str(&format!("witness Y{i} {}\n", witness(i).1.to_vkey()));
        }
        text.push_str("group X 2 X0 X1 X2\ngroup Y any Y3 Y4 Y5\ngroup XY all X Y\nquorum XY\n");
        let policy = Policy::parse(text.as_bytes()).unwrap();
        assert!(!policy.check(&note_cosigned_by(&[0, 1])).unwrap().quorum_met);
        let short = policy.check(&note_cosigned_by(&[0, 4])).unwrap();
        assert!(!short.quorum_met);
        assert_eq!(
            short.shortfall.as_deref(),
            Some(
                "group XY needs 2 of 2 members and has 1 ([Y]); group X needs 2 of 3 members \
                 and has 1 ([X0])"
            )
        );
        assert!(
            policy
                .check(&note_cosigned_by(&[0, 1, 4]))
                .unwrap()
                .quorum_met
        );
    }

    #[test]
    fn malformed_policies_are_refused_with_the_line() {
        let (_, log) = log();
        let (_, w0) = witness(0);
        let base = format!("log {}\nwitness A {}\n", log.to_vkey(), w0.to_vkey());
        for (extra, line) in [
            ("quorum B\n", 3),                      // undefined
            ("group G 2 A\nquorum G\n", 3),         // k > n
            ("group G 0 A\nquorum G\n", 3),         // k < 1
            ("group G 01 A\nquorum G\n", 3),        // leading zero
            ("group G any A A\nquorum G\n", 3),     // member twice
            ("group G any\nquorum G\n", 3),         // no member
            ("group none any A\nquorum none\n", 3), // reserved name
            ("witness A2 {w0}\nquorum A\n", 3),     // duplicate key
            ("quorum A\nquorum A\n", 4),            // two quorums
            ("frobnicate\nquorum A\n", 3),          // unknown line
            ("quorum A\x0b\n", 3),                  // control character
        ] {
            let text = base.clone() + &extra.replace("{w0}", &w0.to_vkey());
            match Policy::parse(text.as_bytes()) {
                Err(PolicyError::Line { line: l, .. }) => assert_eq!(l, line, "{extra}"),
                other => panic!("{extra}: {other:?}"),
            }
        }
        assert_eq!(Policy::parse(base.as_bytes()), Err(PolicyError::NoQuorum));
        assert!(matches!(
            Policy::parse(&vec![b'#'; POLICY_BYTES_MAX + 1]),
            Err(PolicyError::TooLarge(_))
        ));
        // A witness key where a log key belongs (wrong signature type) is refused.
        let text = format!("log {}\nquorum none\n", w0.to_vkey());
        assert!(Policy::parse(text.as_bytes()).is_err());
    }
}
