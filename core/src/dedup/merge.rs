//! Uniting two customer records that name the same company: which one survives, and what the
//! survivor holds afterwards.
//!
//! The relay calls this when it resolves identities across reps (DESIGN §6), and the phone and
//! the import tool call it when a rep or a spreadsheet row turns out to be a known customer, so
//! the same pair gives the same record everywhere. It is pure: no store, no clock.
//!
//! Lists (phones, contacts, tags) are united without losing an entry; scalar fields keep the
//! canonical record's value and take the duplicate's only where the canonical has none. When
//! both hold different values the canonical's is kept and the pair is reported as a
//! [`FieldConflict`] for a supervisor, never decided silently in favour of the newer record.

use std::cmp::Ordering;

use super::credit_code::normalize_credit_code;
use super::fold_width;
use super::phone::normalize_phone;
use crate::model::{Contact, Customer, Location};

/// Two values of one field that could not both be kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldConflict {
    /// The field: `address`, `location`, `credit_code`, or `contacts[NAME].title` /
    /// `contacts[NAME].email` / `contacts[NAME].name` for a contact both records list.
    pub field: String,
    /// The canonical record's value, which the merged record keeps.
    pub kept: String,
    /// The duplicate's value, which it does not.
    pub other: String,
}

/// The result of [`merge_customers`].
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerMerge {
    /// The canonical record with the duplicate's data united into it: same id, provenance and
    /// company name as the canonical. The caller writes it over the canonical record and sets
    /// the duplicate's `merged_into` to its id.
    pub merged: Customer,
    /// Fields where both records held different values, in field order.
    pub conflicts: Vec<FieldConflict>,
}

/// Which of two records of one company survives: `Less` when `a` is the canonical one.
///
/// The older record (`provenance.created_at`) is canonical, so links made to it in the meantime
/// (opportunities, visits) stay where they are; equal times fall back to the smaller id, which
/// every device compares the same way. The order is total for records with different ids.
pub fn canonical_order(a: &Customer, b: &Customer) -> Ordering {
    a.provenance.created_at.cmp(&b.provenance.created_at).then_with(|| a.id.cmp(&b.id))
}

/// Unites `duplicate` into `canonical` (see [`canonical_order`] for which is which).
///
/// - **Phones** (company phones, and each contact's phones): the canonical's, in its order, then
///   the duplicate's that are not already there. Two entries are the same number when they
///   normalise to the same E.164 number and extension (`0512-6888 8888` = `+86 512 68888888`);
///   entries that are not phone numbers compare as trimmed text.
/// - **Contacts**: a duplicate's contact is the canonical's contact with the same name (ignoring
///   width, case and spaces) or with a phone in common; their phones are united and the
///   canonical contact's title and e-mail kept (the duplicate's taken where it has none).
///   Contacts without a counterpart are appended.
/// - **Tags**: united, compared as trimmed text.
/// - **Address, location, credit code**: the canonical's when set (a blank address counts as
///   unset), else the duplicate's; both set and different → kept and reported in
///   [`CustomerMerge::conflicts`]. Credit codes are compared after normalisation.
/// - Id, provenance, company name and `merged_into` are the canonical's.
///
/// Deterministic: equal inputs give equal outputs, so two devices (or the relay) merging the
/// same pair in canonical order build the same record. [`merge_in_canonical_order`] does the
/// ordering too.
pub fn merge_customers(canonical: &Customer, duplicate: &Customer) -> CustomerMerge {
    let mut conflicts = Vec::new();
    let mut merged = canonical.clone();

    merged.phones = unite_phones(&canonical.phones, &duplicate.phones);
    merged.contacts = unite_contacts(&canonical.contacts, &duplicate.contacts, &mut conflicts);
    merged.tags = unite_by(&canonical.tags, &duplicate.tags, |t| t.trim().to_owned());

    merged.address = merge_scalar(
        "address",
        non_blank(&canonical.address),
        non_blank(&duplicate.address),
        |a, b| squeeze(a) == squeeze(b),
        |a| a.clone(),
        &mut conflicts,
    );
    merged.location = merge_scalar(
        "location",
        canonical.location.as_ref(),
        duplicate.location.as_ref(),
        |a, b| a == b,
        describe_location,
        &mut conflicts,
    );
    merged.credit_code = merge_scalar(
        "credit_code",
        non_blank(&canonical.credit_code),
        non_blank(&duplicate.credit_code),
        |a, b| credit_code_key(a) == credit_code_key(b),
        |c| c.clone(),
        &mut conflicts,
    );
    // A contact conflict is found while uniting the lists, before the scalars; report in the
    // order of the record's fields.
    conflicts.sort_by_key(|c| field_rank(&c.field));
    CustomerMerge { merged, conflicts }
}

/// Orders the two records with [`canonical_order`] and merges the later into the earlier, so
/// `merge_in_canonical_order(a, b) == merge_in_canonical_order(b, a)`.
pub fn merge_in_canonical_order(a: &Customer, b: &Customer) -> CustomerMerge {
    match canonical_order(a, b) {
        Ordering::Greater => merge_customers(b, a),
        Ordering::Less | Ordering::Equal => merge_customers(a, b),
    }
}

fn field_rank(field: &str) -> u8 {
    match field {
        f if f.starts_with("contacts") => 0,
        "address" => 1,
        "location" => 2,
        _ => 3,
    }
}

/// What makes two phone entries the same number: E.164 plus extension when the text is a
/// number, else the trimmed text itself.
fn phone_identity(raw: &str) -> String {
    match normalize_phone(raw) {
        Some(p) => match p.extension {
            Some(ext) => format!("{}#{ext}", p.e164),
            None => p.e164,
        },
        None => format!("text:{}", raw.trim()),
    }
}

fn unite_phones(kept: &[String], other: &[String]) -> Vec<String> {
    unite_by(kept, other, |p| phone_identity(p))
}

/// `kept` as it is, then the entries of `other` whose key is not yet present.
fn unite_by<T: Clone, K: PartialEq>(kept: &[T], other: &[T], key: impl Fn(&T) -> K) -> Vec<T> {
    let mut out = kept.to_vec();
    let mut keys: Vec<K> = kept.iter().map(&key).collect();
    for item in other {
        let k = key(item);
        if !keys.contains(&k) {
            keys.push(k);
            out.push(item.clone());
        }
    }
    out
}

/// A person's name as a match key: width folded, lower case, no white space.
fn contact_name_key(name: &str) -> String {
    name.chars().map(fold_width).filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect()
}

fn same_name(a: &Contact, b: &Contact) -> bool {
    let name = contact_name_key(&a.name);
    !name.is_empty() && name == contact_name_key(&b.name)
}

fn shares_phone(a: &Contact, b: &Contact) -> bool {
    let phones_a: Vec<String> = a.phones.iter().map(|p| phone_identity(p)).collect();
    b.phones.iter().any(|p| phones_a.contains(&phone_identity(p)))
}

#[cfg(test)]
fn same_contact(a: &Contact, b: &Contact) -> bool {
    same_name(a, b) || shares_phone(a, b)
}

fn unite_contacts(kept: &[Contact], other: &[Contact], conflicts: &mut Vec<FieldConflict>) -> Vec<Contact> {
    let mut out = kept.to_vec();
    for contact in other {
        // A name match wins over a phone match: a shared office phone is weaker evidence.
        let position = out
            .iter()
            .position(|c| same_name(c, contact))
            .or_else(|| out.iter().position(|c| shares_phone(c, contact)));
        match position {
            Some(i) => {
                let existing = &mut out[i];
                let label = existing.name.clone();
                if contact_name_key(&existing.name) != contact_name_key(&contact.name) {
                    conflicts.push(FieldConflict {
                        field: format!("contacts[{label}].name"),
                        kept: existing.name.clone(),
                        other: contact.name.clone(),
                    });
                }
                existing.phones = unite_phones(&existing.phones, &contact.phones);
                for (field, mine, theirs) in [
                    ("title", &mut existing.title, &contact.title),
                    ("email", &mut existing.email, &contact.email),
                ] {
                    let field = format!("contacts[{label}].{field}");
                    *mine = merge_scalar_owned(
                        &field,
                        non_blank(mine),
                        non_blank(theirs),
                        |a, b| squeeze(a).to_lowercase() == squeeze(b).to_lowercase(),
                        conflicts,
                    );
                }
            }
            None => out.push(contact.clone()),
        }
    }
    out
}

fn non_blank(value: &Option<String>) -> Option<&String> {
    value.as_ref().filter(|v| !v.trim().is_empty())
}

/// White space collapsed, so `"工业园 8 号"` and `"工业园  8号 "` compare equal.
fn squeeze(text: &str) -> String {
    text.chars().map(fold_width).filter(|c| !c.is_whitespace()).collect()
}

fn credit_code_key(code: &str) -> String {
    normalize_credit_code(code).unwrap_or_else(|| squeeze(code).to_uppercase())
}

fn describe_location(l: &Location) -> String {
    format!("{:.6},{:.6} ({:?})", l.lat, l.lon, l.datum)
}

fn merge_scalar<T: Clone>(
    field: &str,
    kept: Option<&T>,
    other: Option<&T>,
    equal: impl Fn(&T, &T) -> bool,
    describe: impl Fn(&T) -> String,
    conflicts: &mut Vec<FieldConflict>,
) -> Option<T> {
    match (kept, other) {
        (Some(k), Some(o)) => {
            if !equal(k, o) {
                conflicts.push(FieldConflict {
                    field: field.to_owned(),
                    kept: describe(k),
                    other: describe(o),
                });
            }
            Some(k.clone())
        }
        (Some(k), None) => Some(k.clone()),
        (None, o) => o.cloned(),
    }
}

fn merge_scalar_owned(
    field: &str,
    kept: Option<&String>,
    other: Option<&String>,
    equal: impl Fn(&String, &String) -> bool,
    conflicts: &mut Vec<FieldConflict>,
) -> Option<String> {
    merge_scalar(field, kept, other, equal, |s| s.clone(), conflicts)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::ids::{DeviceId, DocId};
    use crate::model::{Datum, FixSource, Provenance};

    fn customer(name: &str, created_at: i64, phones: &[&str]) -> Customer {
        Customer {
            id: DocId::generate(),
            company_name: name.into(),
            contacts: Vec::new(),
            phones: phones.iter().map(|p| p.to_string()).collect(),
            address: None,
            location: None,
            tags: Vec::new(),
            credit_code: None,
            merged_into: None,
            provenance: Provenance { created_at, created_by: DeviceId::from_bytes([1; 16]) },
        }
    }

    fn contact(name: &str, phones: &[&str]) -> Contact {
        Contact {
            name: name.into(),
            phones: phones.iter().map(|p| p.to_string()).collect(),
            ..Default::default()
        }
    }

    fn at(lat: f64, lon: f64) -> Location {
        Location {
            lat,
            lon,
            datum: Datum::Wgs84,
            source: FixSource::Gps,
            accuracy_m: None,
            at: None,
            mock: false,
        }
    }

    #[test]
    fn the_older_record_is_canonical_and_equal_times_fall_back_to_the_id() {
        let old = customer("精工机械", 1_000, &[]);
        let new = customer("精工机械", 2_000, &[]);
        assert_eq!(canonical_order(&old, &new), Ordering::Less);
        assert_eq!(canonical_order(&new, &old), Ordering::Greater);
        let mut twin = customer("精工机械", 1_000, &[]);
        twin.id = DocId::from_bytes([0xff; 16]);
        assert_eq!(canonical_order(&old, &twin), Ordering::Less, "smaller id first");
    }

    #[test]
    fn phones_written_differently_are_kept_once_and_new_ones_are_added() {
        let a = customer("精工机械", 1, &["0512-6888 8888", "138 1234 5678"]);
        let b = customer("精工机械", 2, &["+86 512 68888888", "13812345678", "0512-68888888转201", "见名片"]);
        let merged = merge_customers(&a, &b).merged;
        assert_eq!(merged.phones, vec!["0512-6888 8888", "138 1234 5678", "0512-68888888转201", "见名片"]);
    }

    #[test]
    fn contacts_with_the_same_name_or_a_shared_phone_are_one_person() {
        let mut a = customer("精工机械", 1, &[]);
        a.contacts = vec![contact("张伟", &["13812345678"]), contact("李娜", &["13900000001"])];
        a.contacts[0].title = Some("采购经理".into());
        let mut b = customer("精工机械", 2, &[]);
        b.contacts = vec![
            contact("张 伟", &["13700000002"]),
            contact("Li Na", &["+86 139 0000 0001"]),
            contact("王强", &["13600000003"]),
        ];
        b.contacts[0].title = Some("总经理".into());
        b.contacts[0].email = Some("zw@example.cn".into());
        let result = merge_customers(&a, &b);
        let names: Vec<&str> = result.merged.contacts.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["张伟", "李娜", "王强"]);
        assert_eq!(result.merged.contacts[0].phones, vec!["13812345678", "13700000002"]);
        assert_eq!(result.merged.contacts[0].title.as_deref(), Some("采购经理"));
        assert_eq!(result.merged.contacts[0].email.as_deref(), Some("zw@example.cn"));
        assert_eq!(result.merged.contacts[1].phones, vec!["13900000001"]);
        let fields: Vec<&str> = result.conflicts.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, vec!["contacts[张伟].title", "contacts[李娜].name"]);
    }

    #[test]
    fn scalars_are_filled_from_the_duplicate_and_differences_are_reported() {
        let mut a = customer("精工机械", 1, &[]);
        a.address = Some("苏州工业园区星湖街 8 号".into());
        a.credit_code = Some("914403001922038216".into());
        let mut b = customer("精工机械", 2, &[]);
        b.address = Some("苏州工业园区星湖街8号".into());
        b.location = Some(at(31.3, 120.6));
        b.credit_code = Some("91440300708461136T".into());
        b.tags = vec!["机械".into()];
        let result = merge_customers(&a, &b);
        assert_eq!(result.merged.address, a.address, "same address written with other spacing");
        assert_eq!(result.merged.location, b.location, "taken where the canonical had none");
        assert_eq!(result.merged.credit_code, a.credit_code);
        assert_eq!(result.merged.tags, vec!["机械"]);
        assert_eq!(
            result.conflicts,
            vec![FieldConflict {
                field: "credit_code".into(),
                kept: "914403001922038216".into(),
                other: "91440300708461136T".into()
            }]
        );

        a.location = Some(at(31.0, 120.0));
        a.address = Some("  ".into());
        let result = merge_customers(&a, &b);
        assert_eq!(result.merged.address, b.address, "a blank address counts as unset");
        assert_eq!(result.conflicts[0].field, "location");
        assert_eq!(result.conflicts[0].kept, "31.000000,120.000000 (Wgs84)");
    }

    #[test]
    fn identity_fields_are_the_canonical_records() {
        let a = customer("苏州市精工机械有限公司", 1, &[]);
        let b = customer("精工机械", 2, &[]);
        let merged = merge_customers(&a, &b).merged;
        assert_eq!(
            (merged.id, merged.provenance, merged.company_name.as_str()),
            (a.id, a.provenance, "苏州市精工机械有限公司")
        );
        assert_eq!(merged.merged_into, None);
    }

    fn phone() -> impl Strategy<Value = String> {
        prop_oneof![
            (0u32..40).prop_map(|n| format!("138{:08}", n)),
            (0u32..40).prop_map(|n| format!("+86 138 {:04} {:04}", 0, n)),
            (0u32..5, prop::option::of(100u32..103)).prop_map(|(n, ext)| match ext {
                Some(e) => format!("0512-6888{n:04}转{e}"),
                None => format!("(0512) 6888 {n:04}"),
            }),
            "[a-c ]{0,3}",
        ]
    }

    fn text() -> impl Strategy<Value = Option<String>> {
        prop::option::of(
            prop::sample::select(vec!["", " ", "星湖街8号", "星湖街 8 号", "工业园1号"])
                .prop_map(String::from),
        )
    }

    fn arb_contact() -> impl Strategy<Value = Contact> {
        (
            prop::sample::select(vec!["张伟", "张 伟", "李娜", "王强", ""]),
            prop::collection::vec(phone(), 0..3),
            text(),
            text(),
        )
            .prop_map(|(name, phones, title, email)| Contact {
                name: name.into(),
                title,
                phones,
                email,
            })
    }

    fn arb_customer() -> impl Strategy<Value = Customer> {
        (
            0i64..3,
            any::<[u8; 16]>(),
            prop::collection::vec(phone(), 0..5),
            prop::collection::vec(arb_contact(), 0..4),
            prop::collection::vec(
                prop::sample::select(vec!["机械", "A类", "展会", " 展会 "]).prop_map(String::from),
                0..3,
            ),
            text(),
            prop::option::of((30.0f64..32.0, 120.0f64..121.0).prop_map(|(lat, lon)| at(lat, lon))),
            prop::option::of(
                prop::sample::select(vec![
                    "914403001922038216",
                    "9144 0300 1922 0382 16",
                    "91440300708461136T",
                ])
                .prop_map(String::from),
            ),
        )
            .prop_map(|(created_at, id, phones, contacts, tags, address, location, credit_code)| {
                Customer {
                    id: DocId::from_bytes(id),
                    company_name: "精工机械".into(),
                    contacts,
                    phones,
                    address,
                    location,
                    tags,
                    credit_code,
                    merged_into: None,
                    provenance: Provenance { created_at, created_by: DeviceId::from_bytes([2; 16]) },
                }
            })
    }

    proptest! {
        #[test]
        fn merging_in_canonical_order_does_not_depend_on_argument_order(a in arb_customer(), b in arb_customer()) {
            prop_assume!(a.id != b.id);
            prop_assert_eq!(merge_in_canonical_order(&a, &b), merge_in_canonical_order(&b, &a));
        }

        #[test]
        fn a_merge_loses_no_phone_tag_or_contact_and_merging_again_adds_no_company_phone(
            a in arb_customer(),
            b in arb_customer(),
        ) {
            let once = merge_customers(&a, &b);
            let merged = &once.merged;
            let present = |phones: &[String], p: &String| {
                phones.iter().any(|q| phone_identity(q) == phone_identity(p))
            };
            for p in a.phones.iter().chain(&b.phones) {
                prop_assert!(present(&merged.phones, p), "phone {p} lost");
            }
            for t in a.tags.iter().chain(&b.tags) {
                prop_assert!(merged.tags.iter().any(|m| m.trim() == t.trim()), "tag {t} lost");
            }
            for c in a.contacts.iter().chain(&b.contacts) {
                let person = merged.contacts.iter().find(|m| *m == c || same_contact(m, c));
                prop_assert!(person.is_some(), "contact {} lost", c.name);
                for p in &c.phones {
                    prop_assert!(
                        merged.contacts.iter().any(|m| present(&m.phones, p)),
                        "contact phone {p} lost"
                    );
                }
            }
            // The company's own lists are already complete: merging the duplicate again adds
            // nothing to them.
            let twice = merge_customers(merged, &b);
            prop_assert_eq!(&twice.merged.phones, &merged.phones);
            prop_assert_eq!(&twice.merged.tags, &merged.tags);
        }
    }
}
