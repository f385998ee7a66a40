//! Reading and writing records in documents that other Automerge implementations also write.
//!
//! A record's Rust types fix one Automerge type per field (docs/protocol.md, "Records"), but an
//! ordinary JavaScript or Swift writer picks its own: @automerge/automerge stores a JS string as a
//! collaborative `Text` object and a whole number as an `int`, even where this crate writes a
//! string scalar or an `f64`. Where the meaning is unambiguous the record reads the same either
//! way, at one place, [`read_record`]: a `Text` reads as its string; a `uint`, an `f64` with an
//! integral value (within ±2^53) and a `timestamp` read as the integer they hold; and `f64`
//! fields take any integer a float represents exactly (the field attributes below). Everything
//! else (a map where a string belongs, a fraction where an integer belongs, a counter, an enum
//! spelling nobody wrote) is still refused, and intake refuses (relay) or quarantines (phone)
//! the change that wrote it.
//!
//! [`write_record`] is the other half: a local edit must not rewrite a field it did not change
//! merely because another writer stored the same value with another type, or it would replace a
//! JS `Text` that a rep's colleague is editing concurrently, and that edit would be lost.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::RangeBounds;

use automerge::{Automerge, AutomergeError, ObjId, ObjType, Prop, ScalarValue, Value};
use autosurgeon::hydrate::Unexpected;
use autosurgeon::{Doc, Hydrate, HydrateError, ReadDoc, Reconcile, ReconcileError};

/// The largest integer magnitude an `f64` holds exactly, and so the widest range where an
/// integer and a float of the same value mean the same number.
const EXACT_IN_F64: i64 = 1 << 53;

/// A document that does not read as the record it should hold: which field, and what is wrong
/// with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field {field}: {problem}")]
pub struct UnreadableRecord {
    /// The field's path from the document root (`contacts[0].name`), or `(root)`.
    pub field: String,
    /// What was found there instead of what the record needs.
    pub problem: String,
}

/// Hydrates a record from `doc`, reading other writers' equivalent types as ours.
pub fn read_record<R: Hydrate>(doc: &Automerge) -> Result<R, UnreadableRecord> {
    autosurgeon::hydrate(&LenientRead::new(doc, None)).map_err(|_| {
        // Rare: read again, noting each field's path, to say which one failed.
        let traced = LenientRead::new(doc, Some(RefCell::default()));
        let problem = match autosurgeon::hydrate::<_, R>(&traced) {
            Err(HydrateError::Unexpected(Unexpected::None)) => {
                "is missing, or null where a value is required".into()
            }
            Err(HydrateError::Unexpected(Unexpected::Other { expected, found })) => {
                format!("holds {found}; expected {expected}")
            }
            Err(HydrateError::Unexpected(found)) => {
                format!("holds a value of type {found}, which is not what it needs")
            }
            Err(other) => other.to_string(),
            Ok(_) => "reads only on a second try".into(),
        };
        let field = traced.trail.map(|t| t.into_inner().last).filter(|f| !f.is_empty());
        UnreadableRecord { field: field.unwrap_or_else(|| "(root)".into()), problem }
    })
}

/// Reconciles `record` into a transaction, leaving alone every value that already reads as what
/// the record holds, whatever Automerge type its writer chose.
pub fn write_record<R: Reconcile>(
    tx: &mut automerge::transaction::Transaction<'_>,
    record: &R,
) -> Result<(), ReconcileError> {
    autosurgeon::reconcile(&mut LenientWrite(tx), record)
}

/// A value as a reader of records sees it: a `Text` as its string, integral numbers as `int`.
fn lenient_get<'d, D: ReadDoc>(
    doc: &'d D,
    obj: &ObjId,
    prop: Prop,
) -> Result<Option<(Value<'d>, ObjId)>, AutomergeError> {
    let Some((value, id)) = doc.get(obj, prop)? else { return Ok(None) };
    let value = lenient_value(doc, value, &id)?;
    Ok(Some((value, id)))
}

/// What [`lenient_get`] makes of the value `id` found: a `Text` as its string, integral numbers
/// of every type as `int`.
fn lenient_value<'d, D: ReadDoc>(doc: &D, value: Value<'d>, id: &ObjId) -> Result<Value<'d>, AutomergeError> {
    Ok(match value {
        Value::Object(ObjType::Text) => Value::Scalar(Cow::Owned(ScalarValue::Str(doc.text(id)?.into()))),
        Value::Scalar(scalar) => match as_integer(&scalar) {
            Some(i) => Value::Scalar(Cow::Owned(ScalarValue::Int(i))),
            None => Value::Scalar(scalar),
        },
        other => other,
    })
}

/// The integer a scalar holds without doubt, for any of the types writers use for one.
fn as_integer(scalar: &ScalarValue) -> Option<i64> {
    match *scalar {
        ScalarValue::Uint(u) => i64::try_from(u).ok(),
        ScalarValue::Timestamp(t) => Some(t),
        ScalarValue::F64(f) if f.fract() == 0.0 && f.abs() <= EXACT_IN_F64 as f64 => Some(f as i64),
        _ => None,
    }
}

/// Whether an existing value already means `new` (same string, same number), so that writing
/// `new` over it would change nothing but its type.
fn already_holds<D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    prop: Prop,
    new: &ScalarValue,
) -> Result<bool, AutomergeError> {
    let Some((existing, id)) = doc.get(obj, prop.clone())? else { return Ok(false) };
    Ok(match (existing, new) {
        (Value::Object(ObjType::Text), ScalarValue::Str(s)) => doc.text(&id)? == s.as_str(),
        // The same type and value: automerge's own put decides, as for every other write.
        (Value::Scalar(old), new) if std::mem::discriminant(old.as_ref()) == std::mem::discriminant(new) => {
            false
        }
        (Value::Scalar(old), new) => matches!((numeric(&old), numeric(new)), (Some(a), Some(b)) if a == b),
        _ => false,
    })
}

/// A number of any scalar type, compared by value; `None` for non-numbers.
fn numeric(scalar: &ScalarValue) -> Option<f64> {
    match *scalar {
        ScalarValue::Int(i) | ScalarValue::Timestamp(i) if i.unsigned_abs() <= EXACT_IN_F64 as u64 => {
            Some(i as f64)
        }
        ScalarValue::Uint(u) if u <= EXACT_IN_F64 as u64 => Some(u as f64),
        ScalarValue::F64(f) => Some(f),
        _ => None,
    }
}

/// `f64` fields: a float, or an integer that a float holds exactly (JS writes `2` as an int).
pub(crate) fn number<D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    prop: autosurgeon::Prop<'_>,
) -> Result<f64, HydrateError> {
    Number::hydrate(doc, obj, prop).map(|n| n.0)
}

/// Optional `f64` fields, as [`number`].
pub(crate) fn optional_number<D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    prop: autosurgeon::Prop<'_>,
) -> Result<Option<f64>, HydrateError> {
    Option::<Number>::hydrate(doc, obj, prop).map(|n| n.map(|n| n.0))
}

/// `u32` fields: any integer type (JS writes every integer as a signed int) within range.
pub(crate) fn count<D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    prop: autosurgeon::Prop<'_>,
) -> Result<u32, HydrateError> {
    Count::hydrate(doc, obj, prop).map(|n| n.0)
}

struct Number(f64);

impl Hydrate for Number {
    fn hydrate_f64(f: f64) -> Result<Self, HydrateError> {
        Ok(Number(f))
    }

    fn hydrate_int(i: i64) -> Result<Self, HydrateError> {
        if i.unsigned_abs() > EXACT_IN_F64 as u64 {
            return Err(HydrateError::unexpected(
                "a number",
                format!("the integer {i}, which no float holds exactly"),
            ));
        }
        Ok(Number(i as f64))
    }

    fn hydrate_uint(u: u64) -> Result<Self, HydrateError> {
        i64::try_from(u)
            .map_err(|_| HydrateError::unexpected("a number", format!("the integer {u}")))
            .and_then(Self::hydrate_int)
    }
}

struct Count(u32);

impl Hydrate for Count {
    fn hydrate_int(i: i64) -> Result<Self, HydrateError> {
        u32::try_from(i).map(Count).map_err(|_| {
            HydrateError::unexpected("a whole number from 0 to 4294967295", format!("the integer {i}"))
        })
    }

    fn hydrate_uint(u: u64) -> Result<Self, HydrateError> {
        u32::try_from(u).map(Count).map_err(|_| {
            HydrateError::unexpected("a whole number from 0 to 4294967295", format!("the integer {u}"))
        })
    }
}

/// A document as a record reader sees it (see [`lenient_get`]), optionally noting the path of
/// every value read, to name the field a failed read stopped at.
///
/// Reading a record asks for every field of every object in turn, and each `get` is a seek from
/// the object's start in automerge 0.12's columnar op set (a third of a fresh phone's sync was
/// spent there, issue 17). So the first `get` on a map or list reads all its entries in one
/// pass (`map_range`, `list_range`) and later ones are answered from that.
struct LenientRead<'a, D> {
    doc: &'a D,
    trail: Option<RefCell<Trail>>,
    objects: RefCell<HashMap<ObjId, Entries>>,
}

impl<'a, D: ReadDoc> LenientRead<'a, D> {
    fn new(doc: &'a D, trail: Option<RefCell<Trail>>) -> Self {
        LenientRead { doc, trail, objects: RefCell::default() }
    }

    /// `lenient_get` from the object's entries, read in one pass on first use; `None` for an
    /// object that is neither a map nor a list (text, or no object), which is asked directly.
    fn cached_get(
        &self,
        obj: &ObjId,
        prop: &Prop,
    ) -> Option<Result<Option<(Value<'static>, ObjId)>, AutomergeError>> {
        let mut objects = self.objects.borrow_mut();
        if !objects.contains_key(obj) {
            let entries = match self.doc.object_type(obj)? {
                ObjType::Map | ObjType::Table => {
                    let mut map = HashMap::new();
                    for item in self.doc.map_range(obj, ..) {
                        let id = item.id();
                        let value = match lenient_value(self.doc, item.value.into_value(), &id) {
                            Ok(value) => value,
                            Err(e) => return Some(Err(e)),
                        };
                        map.insert(item.key.into_owned(), (value, id));
                    }
                    Entries::Map(map)
                }
                ObjType::List => {
                    let mut list = Vec::new();
                    for item in self.doc.list_range(obj, ..) {
                        let id = item.id();
                        match lenient_value(self.doc, item.value.into_value(), &id) {
                            Ok(value) => list.push((value, id)),
                            Err(e) => return Some(Err(e)),
                        }
                    }
                    Entries::List(list)
                }
                ObjType::Text => return None,
            };
            objects.insert(obj.clone(), entries);
        }
        let found = match (objects.get(obj)?, prop) {
            (Entries::Map(map), Prop::Map(key)) => map.get(key.as_str()).cloned(),
            (Entries::List(list), Prop::Seq(index)) => list.get(*index).cloned(),
            // A map asked by index or a list by key: let automerge give its own answer.
            _ => return None,
        };
        Some(Ok(found))
    }
}

/// One map's or list's entries, as [`lenient_get`] reads them.
enum Entries {
    Map(HashMap<String, (Value<'static>, ObjId)>),
    List(Vec<(Value<'static>, ObjId)>),
}

#[derive(Default)]
struct Trail {
    paths: HashMap<ObjId, String>,
    last: String,
}

impl Trail {
    fn note(&mut self, obj: &ObjId, prop: &Prop, found: Option<&(Value<'_>, ObjId)>) {
        let parent = self.paths.get(obj).map_or("", String::as_str);
        let path = match prop {
            Prop::Map(key) if parent.is_empty() => key.clone(),
            Prop::Map(key) => format!("{parent}.{key}"),
            Prop::Seq(index) => format!("{parent}[{index}]"),
        };
        if let Some((Value::Object(_), id)) = found {
            self.paths.insert(id.clone(), path.clone());
        }
        self.last = path;
    }
}

impl<D: ReadDoc> ReadDoc for LenientRead<'_, D> {
    type Parents<'b>
        = D::Parents<'b>
    where
        Self: 'b;

    fn get_heads(&self) -> Vec<automerge::ChangeHash> {
        self.doc.get_heads()
    }

    fn get<P: Into<Prop>>(&self, obj: &ObjId, prop: P) -> Result<Option<(Value<'_>, ObjId)>, AutomergeError> {
        let prop = prop.into();
        let found = match self.cached_get(obj, &prop) {
            Some(found) => found?,
            None => lenient_get(self.doc, obj, prop.clone())?,
        };
        if let Some(trail) = &self.trail {
            trail.borrow_mut().note(obj, &prop, found.as_ref());
        }
        Ok(found)
    }

    fn object_type<O: AsRef<ObjId>>(&self, obj: O) -> Option<ObjType> {
        self.doc.object_type(obj)
    }

    fn map_range<'b, O, R>(&'b self, obj: O, range: R) -> automerge::iter::MapRange<'b>
    where
        R: RangeBounds<String> + 'b,
        O: AsRef<ObjId>,
    {
        self.doc.map_range(obj, range)
    }

    fn list_range<O: AsRef<ObjId>, R: RangeBounds<usize>>(
        &self,
        obj: O,
        range: R,
    ) -> automerge::iter::ListRange<'_> {
        self.doc.list_range(obj, range)
    }

    fn length<O: AsRef<ObjId>>(&self, obj: O) -> usize {
        self.doc.length(obj)
    }

    fn text<O: AsRef<ObjId>>(&self, obj: O) -> Result<String, AutomergeError> {
        self.doc.text(obj)
    }

    fn parents<O: AsRef<ObjId>>(&self, obj: O) -> Result<Self::Parents<'_>, AutomergeError> {
        self.doc.parents(obj)
    }

    fn is_empty(&self) -> bool {
        self.doc.is_empty()
    }
}

/// A transaction that reads like [`LenientRead`] (so reconciling matches list items by keys
/// stored as `Text`) and skips puts that would change only a value's type.
struct LenientWrite<'a, D>(&'a mut D);

impl<D: Doc> ReadDoc for LenientWrite<'_, D> {
    type Parents<'b>
        = D::Parents<'b>
    where
        Self: 'b;

    fn get_heads(&self) -> Vec<automerge::ChangeHash> {
        self.0.get_heads()
    }

    fn get<P: Into<Prop>>(&self, obj: &ObjId, prop: P) -> Result<Option<(Value<'_>, ObjId)>, AutomergeError> {
        lenient_get(&*self.0, obj, prop.into())
    }

    fn object_type<O: AsRef<ObjId>>(&self, obj: O) -> Option<ObjType> {
        self.0.object_type(obj)
    }

    fn map_range<'b, O, R>(&'b self, obj: O, range: R) -> automerge::iter::MapRange<'b>
    where
        R: RangeBounds<String> + 'b,
        O: AsRef<ObjId>,
    {
        self.0.map_range(obj, range)
    }

    fn list_range<O: AsRef<ObjId>, R: RangeBounds<usize>>(
        &self,
        obj: O,
        range: R,
    ) -> automerge::iter::ListRange<'_> {
        self.0.list_range(obj, range)
    }

    fn length<O: AsRef<ObjId>>(&self, obj: O) -> usize {
        self.0.length(obj)
    }

    fn text<O: AsRef<ObjId>>(&self, obj: O) -> Result<String, AutomergeError> {
        self.0.text(obj)
    }

    fn parents<O: AsRef<ObjId>>(&self, obj: O) -> Result<Self::Parents<'_>, AutomergeError> {
        self.0.parents(obj)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<D: Doc> Doc for LenientWrite<'_, D> {
    fn put<O: AsRef<ObjId>, P: Into<Prop>, V: Into<ScalarValue>>(
        &mut self,
        obj: O,
        prop: P,
        value: V,
    ) -> Result<(), AutomergeError> {
        let (prop, value) = (prop.into(), value.into());
        if already_holds(&*self.0, obj.as_ref(), prop.clone(), &value)? {
            return Ok(());
        }
        self.0.put(obj, prop, value)
    }

    fn put_object<O: AsRef<ObjId>, P: Into<Prop>>(
        &mut self,
        obj: O,
        prop: P,
        value: ObjType,
    ) -> Result<ObjId, AutomergeError> {
        self.0.put_object(obj, prop, value)
    }

    fn insert<O: AsRef<ObjId>, V: Into<ScalarValue>>(
        &mut self,
        obj: O,
        index: usize,
        value: V,
    ) -> Result<(), AutomergeError> {
        self.0.insert(obj, index, value)
    }

    fn insert_object<O: AsRef<ObjId>>(
        &mut self,
        obj: O,
        index: usize,
        value: ObjType,
    ) -> Result<ObjId, AutomergeError> {
        self.0.insert_object(obj, index, value)
    }

    fn increment<O: AsRef<ObjId>, P: Into<Prop>>(
        &mut self,
        obj: O,
        prop: P,
        value: i64,
    ) -> Result<(), AutomergeError> {
        self.0.increment(obj, prop, value)
    }

    fn delete<O: AsRef<ObjId>, P: Into<Prop>>(&mut self, obj: O, prop: P) -> Result<(), AutomergeError> {
        self.0.delete(obj, prop)
    }

    fn splice_text<O: AsRef<ObjId>>(
        &mut self,
        obj: O,
        pos: usize,
        del: isize,
        text: &str,
    ) -> Result<(), AutomergeError> {
        self.0.splice_text(obj, pos, del, text)
    }

    fn update_text<O: AsRef<ObjId>>(&mut self, obj: O, text: &str) -> Result<(), AutomergeError> {
        self.0.update_text(obj, text)
    }

    fn batch_create<O: AsRef<ObjId>, P: Into<Prop>>(
        &mut self,
        obj: O,
        prop: P,
        value: automerge::hydrate::Value,
        insert: bool,
    ) -> Result<(), AutomergeError> {
        // autosurgeon writes a scalar this way when the existing one's type differs (an `int`
        // where it writes an `f64`), whatever the value.
        let prop = prop.into();
        if let automerge::hydrate::Value::Scalar(scalar) = &value
            && !insert
            && already_holds(&*self.0, obj.as_ref(), prop.clone(), scalar)?
        {
            return Ok(());
        }
        self.0.batch_create(obj, prop, value, insert)
    }

    fn init_root_from_hydrate(&mut self, value: &automerge::hydrate::Map) -> Result<(), AutomergeError> {
        self.0.init_root_from_hydrate(value)
    }
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{ActorId, Automerge, ObjId, ObjType, Prop, ROOT, ReadDoc as _, ScalarValue, Value};

    use super::{read_record, write_record};
    use crate::ids::{DeviceId, DocId};
    use crate::model::*;

    const AT: i64 = 1_795_654_800_000;

    fn provenance() -> Provenance {
        Provenance { created_at: AT, created_by: DeviceId::from_bytes([7; 16]) }
    }

    fn fix() -> Location {
        // Whole degrees and metres: a JS writer stores them as ints.
        Location {
            lat: 31.0,
            lon: 120.625,
            datum: Datum::Gcj02,
            source: FixSource::Network,
            accuracy_m: Some(35.0),
            at: Some(AT),
            mock: true,
        }
    }

    fn customer() -> Customer {
        Customer {
            id: DocId::generate(),
            company_name: "苏州精工机械有限公司".into(),
            contacts: vec![Contact {
                name: "张伟".into(),
                title: Some("采购经理".into()),
                phones: vec!["13812345678".into()],
                email: Some("zhang@jinggong.cn".into()),
            }],
            phones: vec!["0512-6888 8888".into(), "0512-6888 8889".into()],
            address: Some("苏州工业园区星湖街 328 号".into()),
            location: Some(fix()),
            tags: vec!["注塑".into()],
            credit_code: Some("91320594MA1MXXXX0X".into()),
            merged_into: Some(DocId::generate()),
            provenance: provenance(),
        }
    }

    fn lead_card() -> LeadCard {
        LeadCard {
            id: DocId::generate(),
            raw_payload: "MECARD:N:张三;TEL:13812345678;;".into(),
            format: "mecard".into(),
            name: Some("张三".into()),
            company: Some("凯丰注塑".into()),
            title: Some("厂长".into()),
            phones: vec!["13812345678".into()],
            emails: vec!["z@kf.cn".into()],
            address: Some("南通".into()),
            url: Some("https://kf.example".into()),
            source_event: Some("CHINAPLAS 2026".into()),
            customer_id: Some(DocId::generate()),
            provenance: provenance(),
        }
    }

    fn opportunity() -> Opportunity {
        let by = DeviceId::from_bytes([7; 16]);
        Opportunity {
            id: DocId::generate(),
            customer_id: DocId::generate(),
            owner: "rep-li".into(),
            title: "二号车间注塑机".into(),
            stage: Stage::NeedsConfirmed,
            stage_entered_at: AT + 1,
            stage_history: vec![
                StageChange { from: None, to: Stage::FirstContact, at: AT, by, note: None },
                StageChange {
                    from: Some(Stage::FirstContact),
                    to: Stage::NeedsConfirmed,
                    at: AT + 1,
                    by,
                    note: Some("技术交流".into()),
                },
            ],
            amount: Some(Money { minor_units: 12_800_000, currency: "CNY".into() }),
            margin: Some(Money { minor_units: 2_100_000, currency: "CNY".into() }),
            expected_close_at: Some(AT + 2),
            next_action_due_at: Some(AT + 3),
            evidence: vec![DealEvidence {
                sha256: "ab".repeat(32),
                kind: EvidenceKind::TechnicalDocument,
                name: "规格书.pdf".into(),
                added_at: AT,
                added_by: by,
            }],
            provenance: provenance(),
        }
    }

    fn visit() -> Visit {
        Visit {
            id: DocId::generate(),
            customer_id: DocId::generate(),
            opportunity_id: Some(DocId::generate()),
            planned_at: AT,
            started_at: Some(AT + 10),
            ended_at: Some(AT + 20),
            fixes: vec![fix()],
            photos: vec![PhotoRef {
                sha256: "cd".repeat(32),
                thumbnail_sha256: Some("ef".repeat(32)),
                taken_at: AT + 11,
                original_sha256: Some("01".repeat(32)),
                exif_location: Some(fix()),
                exif_taken_at: Some(AT + 12),
                fix: Some(fix()),
                on_site: Some(true),
                flags: vec![EvidenceFlag::new("mock_location", "the OS flagged the fix")],
            }],
            notes: "客户要求下周报价".into(),
            next_step: Some("发报价".into()),
            on_site: Some(false),
            flags: vec![EvidenceFlag::new("off_site", "412 m from the site")],
            provenance: provenance(),
        }
    }

    fn service_slip() -> ServiceSlip {
        ServiceSlip {
            id: DocId::generate(),
            visit_id: DocId::generate(),
            items: vec![
                SlipItem { description: "保养".into(), quantity: 2.0, unit: "台".into() },
                SlipItem { description: "调试".into(), quantity: 1.5, unit: "hours".into() },
            ],
            notes: "已完成".into(),
            signer_name: Some("王芳".into()),
            signature_png_sha256: Some("12".repeat(32)),
            strokes_sha256: Some("34".repeat(32)),
            photo_sha256s: vec!["56".repeat(32)],
            fix: Some(fix()),
            signed_by: Some(DeviceId::from_bytes([7; 16])),
            device_public_key: Some("78".repeat(32)),
            content_sha256: Some("9a".repeat(32)),
            device_signature: Some("bc".repeat(64)),
            signed_at: Some(AT + 30),
            provenance: provenance(),
        }
    }

    fn team_rules() -> TeamRules {
        let mut rules = NewTeamRules {
            geofence_mode: GeofenceMode::Hard,
            required_customer_fields: vec!["address".into()],
            ..Default::default()
        }
        .into_record(DocId::generate(), provenance());
        rules.dedup_same_name = 1.0;
        rules
    }

    fn alert() -> Alert {
        Alert {
            id: DocId::generate(),
            key: "k/NeedsConfirmed/1/no_activity/supervisor/0".into(),
            opportunity_id: DocId::generate(),
            customer_id: DocId::generate(),
            opportunity_title: "二号车间注塑机".into(),
            owner: "rep-li".into(),
            stage: Stage::Negotiation,
            level: StallLevel::Escalation,
            kinds: vec![StallKind::NoActivity, StallKind::StageTooLong],
            stage_entered_at: AT,
            last_activity_at: AT + 1,
            due_at: AT + 2,
            threshold_days: 7,
            rep_last_sync_at: Some(AT + 3),
            raised_at: AT + 4,
            provenance: provenance(),
        }
    }

    /// The record as this crate writes it.
    fn written<R: Record>(record: &R) -> Automerge {
        let mut doc = Automerge::new().with_actor(ActorId::from([1u8; 16]));
        let mut tx = doc.transaction();
        tx.put(ROOT, "kind", R::KIND.as_str()).unwrap();
        tx.put(ROOT, "schema", SCHEMA_VERSION).unwrap();
        autosurgeon::reconcile(&mut tx, record).unwrap();
        tx.commit();
        doc
    }

    /// The same document as @automerge/automerge writes the same JSON by default: every string
    /// a `Text` object, every whole number an `int`.
    fn as_javascript_writes_it(doc: &Automerge) -> Automerge {
        fn value(
            src: &Automerge,
            obj: &ObjId,
            prop: Prop,
            tx: &mut automerge::transaction::Transaction<'_>,
            dst: &ObjId,
            insert: bool,
        ) {
            let (v, id) = src.get(obj, prop.clone()).unwrap().unwrap();
            let object = |tx: &mut automerge::transaction::Transaction<'_>, kind| match (&prop, insert) {
                (Prop::Seq(i), true) => tx.insert_object(dst, *i, kind).unwrap(),
                _ => tx.put_object(dst, prop.clone(), kind).unwrap(),
            };
            let scalar =
                |tx: &mut automerge::transaction::Transaction<'_>, s: ScalarValue| match (&prop, insert) {
                    (Prop::Seq(i), true) => tx.insert(dst, *i, s).unwrap(),
                    _ => tx.put(dst, prop.clone(), s).unwrap(),
                };
            match v {
                Value::Object(ObjType::Map) => {
                    let new = object(tx, ObjType::Map);
                    for key in src.keys(&id).collect::<Vec<_>>() {
                        value(src, &id, Prop::Map(key), tx, &new, false);
                    }
                }
                Value::Object(ObjType::List) => {
                    let new = object(tx, ObjType::List);
                    for i in 0..src.length(&id) {
                        value(src, &id, Prop::Seq(i), tx, &new, true);
                    }
                }
                Value::Object(other) => panic!("records hold no {other:?}"),
                Value::Scalar(s) => match s.as_ref() {
                    ScalarValue::Str(text) => {
                        let new = object(tx, ObjType::Text);
                        tx.splice_text(&new, 0, 0, text).unwrap();
                    }
                    ScalarValue::F64(f) if f.fract() == 0.0 => scalar(tx, ScalarValue::Int(*f as i64)),
                    ScalarValue::Uint(u) => scalar(tx, ScalarValue::Int(*u as i64)),
                    other => scalar(tx, other.clone()),
                },
            }
        }
        let mut js = Automerge::new().with_actor(ActorId::from([2u8; 16]));
        let mut tx = js.transaction();
        for key in doc.keys(ROOT).collect::<Vec<_>>() {
            value(doc, &ROOT, Prop::Map(key), &mut tx, &ROOT, false);
        }
        tx.commit();
        js
    }

    fn reads_back_from_javascript<R: Record + PartialEq>(record: R) {
        let js = as_javascript_writes_it(&written(&record));
        assert!(matches!(js.get(ROOT, "kind").unwrap(), Some((Value::Object(ObjType::Text), _))));
        assert_eq!(read_record::<R>(&js).unwrap(), record, "{}", R::KIND);
        assert_eq!(check_readable(&js).unwrap().kind, R::KIND);
        assert!(autosurgeon::hydrate::<_, R>(&js).is_err(), "{}: the strict reader refuses it", R::KIND);
    }

    #[test]
    fn every_record_kind_written_the_javascript_way_reads_as_the_same_record() {
        reads_back_from_javascript(customer());
        reads_back_from_javascript(lead_card());
        reads_back_from_javascript(opportunity());
        reads_back_from_javascript(visit());
        reads_back_from_javascript(service_slip());
        reads_back_from_javascript(team_rules());
        reads_back_from_javascript(alert());
    }

    /// A document with `field` (a root key) overwritten with `value`.
    fn with<R: Record>(record: &R, field: &str, value: ScalarValue) -> Automerge {
        let mut doc = written(record);
        let mut tx = doc.transaction();
        tx.put(ROOT, field, value).unwrap();
        tx.commit();
        doc
    }

    fn with_in<R: Record>(record: &R, path: &[Prop], value: ScalarValue) -> Automerge {
        let mut doc = written(record);
        let mut tx = doc.transaction();
        let mut obj = ROOT;
        for prop in &path[..path.len() - 1] {
            obj = tx.get(&obj, prop.clone()).unwrap().unwrap().1;
        }
        tx.put(&obj, path[path.len() - 1].clone(), value).unwrap();
        tx.commit();
        doc
    }

    fn key(k: &str) -> Prop {
        Prop::Map(k.into())
    }

    #[test]
    fn a_string_field_reads_from_text_in_every_position() {
        let c = customer();
        let js = as_javascript_writes_it(&written(&c));
        let read: Customer = read_record(&js).unwrap();
        assert_eq!(read.company_name, c.company_name, "String");
        assert_eq!(read.address, c.address, "Option<String>");
        assert_eq!(read.phones, c.phones, "Vec<String> items");
        assert_eq!(read.contacts[0].name, c.contacts[0].name, "a nested struct's String");
        assert_eq!(read.location.unwrap().datum, Datum::Gcj02, "an enum spelled in text");
    }

    #[test]
    fn a_float_field_reads_from_an_int_or_uint() {
        let slip = service_slip();
        let doc = with_in(&slip, &[key("items"), Prop::Seq(0), key("quantity")], ScalarValue::Int(3));
        assert_eq!(read_record::<ServiceSlip>(&doc).unwrap().items[0].quantity, 3.0, "f64 from int");
        let rules = team_rules();
        let doc = with(&rules, "geofence_radius_m", ScalarValue::Uint(500));
        assert_eq!(read_record::<TeamRules>(&doc).unwrap().geofence_radius_m, 500.0, "f64 from uint");
        let c = customer();
        let doc = with_in(&c, &[key("location"), key("accuracy_m")], ScalarValue::Int(12));
        assert_eq!(
            read_record::<Customer>(&doc).unwrap().location.unwrap().accuracy_m,
            Some(12.0),
            "Option<f64>"
        );
        let doc = with_in(&c, &[key("location"), key("lat")], ScalarValue::Int(1 << 54));
        let err = read_record::<Customer>(&doc).unwrap_err();
        assert_eq!(err.field, "location.lat", "an int no float holds exactly is refused: {err}");
    }

    #[test]
    fn an_integer_field_reads_from_a_whole_float_a_uint_or_a_timestamp() {
        let c = customer();
        for value in [ScalarValue::F64(AT as f64), ScalarValue::Uint(AT as u64), ScalarValue::Timestamp(AT)] {
            let doc = with_in(&c, &[key("provenance"), key("created_at")], value.clone());
            assert_eq!(
                read_record::<Customer>(&doc).unwrap().provenance.created_at,
                AT,
                "i64 from {value:?}"
            );
        }
        let doc = with_in(&c, &[key("provenance"), key("created_at")], ScalarValue::F64(AT as f64 + 0.5));
        assert_eq!(
            read_record::<Customer>(&doc).unwrap_err().field,
            "provenance.created_at",
            "a fraction is refused"
        );
        let v = visit();
        let doc = with(&v, "started_at", ScalarValue::F64((AT + 10) as f64));
        assert_eq!(read_record::<Visit>(&doc).unwrap().started_at, Some(AT + 10), "Option<i64>");
        let opportunity = opportunity();
        let doc = with_in(&opportunity, &[key("amount"), key("minor_units")], ScalarValue::F64(500.0));
        assert_eq!(read_record::<Opportunity>(&doc).unwrap().amount.unwrap().minor_units, 500, "money");
    }

    #[test]
    fn a_count_field_reads_from_an_int_in_range_only() {
        let rules = team_rules();
        let path = [key("stage_rules"), Prop::Seq(0), key("no_activity_days")];
        let doc = with_in(&rules, &path, ScalarValue::Int(6));
        assert_eq!(
            read_record::<TeamRules>(&doc).unwrap().stage_rules[0].no_activity_days,
            6,
            "u32 from int"
        );
        let doc = with(&rules, "alert_grace_hours", ScalarValue::F64(12.0));
        assert_eq!(read_record::<TeamRules>(&doc).unwrap().alert_grace_hours, 12, "u32 from a whole float");
        let doc = with_in(&rules, &path, ScalarValue::Int(-1));
        assert_eq!(read_record::<TeamRules>(&doc).unwrap_err().field, "stage_rules[0].no_activity_days");
        let doc = with(&alert(), "threshold_days", ScalarValue::Int(i64::from(u32::MAX) + 1));
        assert_eq!(read_record::<Alert>(&doc).unwrap_err().field, "threshold_days");
    }

    #[test]
    fn a_bool_field_and_an_id_take_only_their_own_type() {
        let c = customer();
        let doc = with_in(&c, &[key("location"), key("mock")], ScalarValue::Int(1));
        assert_eq!(read_record::<Customer>(&doc).unwrap_err().field, "location.mock");
        let doc = with(&c, "id", ScalarValue::Str(c.id.to_string().into()));
        assert_eq!(read_record::<Customer>(&doc).unwrap_err().field, "id");
    }

    #[test]
    fn absent_optional_fields_read_as_none_and_absent_required_ones_are_refused() {
        let c = customer();
        let mut doc = written(&c);
        let mut tx = doc.transaction();
        tx.delete(ROOT, "address").unwrap();
        tx.delete(ROOT, "location").unwrap();
        tx.commit();
        let read: Customer = read_record(&doc).unwrap();
        assert_eq!((read.address, read.location), (None, None));
        let doc = with(&c, "address", ScalarValue::Null);
        assert_eq!(read_record::<Customer>(&doc).unwrap().address, None, "null is none too");
        let mut doc = written(&c);
        let mut tx = doc.transaction();
        tx.delete(ROOT, "company_name").unwrap();
        tx.commit();
        let err = read_record::<Customer>(&doc).unwrap_err();
        assert_eq!(err.field, "company_name", "{err}");
    }

    #[test]
    fn values_with_no_single_meaning_are_refused_and_the_field_is_named() {
        let c = customer();
        let mut doc = written(&c);
        let mut tx = doc.transaction();
        let contacts = tx.get(ROOT, "contacts").unwrap().unwrap().1;
        let first = tx.get(&contacts, 0).unwrap().unwrap().1;
        tx.put_object(&first, "name", ObjType::Map).unwrap();
        tx.commit();
        let err = read_record::<Customer>(&doc).unwrap_err();
        assert_eq!(err.field, "contacts[0].name", "a map where a string belongs: {err}");

        let doc = with(&opportunity(), "stage", ScalarValue::Str("first_contact".into()));
        let err = read_record::<Opportunity>(&doc).unwrap_err();
        assert_eq!(err.field, "stage", "an unknown enum spelling: {err}");

        let doc = with(&team_rules(), "geofence_radius_m", ScalarValue::counter(300));
        assert_eq!(read_record::<TeamRules>(&doc).unwrap_err().field, "geofence_radius_m", "a counter");
    }

    #[test]
    fn an_edit_leaves_another_writers_equal_values_alone_so_their_concurrent_edit_survives() {
        let v = visit();
        let mut js = as_javascript_writes_it(&written(&v));
        let mut phone = js.fork().with_actor(ActorId::from([3u8; 16]));

        // The JS writer appends to the notes text; the phone, concurrently, sets the next step.
        let mut tx = js.transaction();
        let notes = tx.get(ROOT, "notes").unwrap().unwrap().1;
        tx.splice_text(&notes, tx.length(&notes), 0, "，带样品").unwrap();
        tx.commit();

        let mut edited: Visit = read_record(&phone).unwrap();
        edited.next_step = Some("周三送样".into());
        let mut tx = phone.transaction();
        write_record(&mut tx, &edited).unwrap();
        tx.commit();

        phone.merge(&mut js).unwrap();
        let merged: Visit = read_record(&phone).unwrap();
        assert_eq!(merged.notes, "客户要求下周报价，带样品", "the JS edit survives");
        assert_eq!(merged.next_step.as_deref(), Some("周三送样"), "and so does the phone's");
    }

    #[test]
    fn writing_back_an_unchanged_record_read_from_another_writer_changes_nothing() {
        let js = as_javascript_writes_it(&written(&service_slip()));
        let mut doc = js.clone();
        let read: ServiceSlip = read_record(&doc).unwrap();
        let mut tx = doc.transaction();
        write_record(&mut tx, &read).unwrap();
        assert_eq!(tx.pending_ops(), 0);
    }
}
