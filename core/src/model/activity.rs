//! A follow-up between visits (跟进记录): a call, a message, a sample sent, a payment chased. It
//! records the three things a follow-up is for: when the customer was contacted, what was said,
//! and what comes next.

use autosurgeon::{Hydrate, Reconcile};

use super::{Draft, Provenance, Record, RecordKind, ValidationError, limit_text, require_text};
use crate::clock::UnixMillis;
use crate::ids::DocId;

/// What kind of follow-up. Stored by the snake-case names of [`ActivityType::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Reconcile, Hydrate)]
pub enum ActivityType {
    /// 电话 — a phone call.
    Call,
    /// 微信/消息 — WeChat or another message.
    Message,
    /// 会议 — a meeting away from the customer's site (or online).
    Meeting,
    /// 邮件 — an email.
    Email,
    /// 拜访 — a visit; the activity links the [`Visit`](super::Visit) with its evidence.
    Visit,
    /// 回款跟进 — chasing a payment.
    PaymentFollowUp,
    /// 寄样 — a sample sent.
    SampleSent,
    /// 询价 — an inquiry received from the customer.
    InquiryReceived,
    /// 报价 — a quote sent.
    QuoteSent,
}

impl ActivityType {
    /// Every type, in a stable order.
    pub const ALL: [ActivityType; 9] = [
        ActivityType::Call,
        ActivityType::Message,
        ActivityType::Meeting,
        ActivityType::Email,
        ActivityType::Visit,
        ActivityType::PaymentFollowUp,
        ActivityType::SampleSent,
        ActivityType::InquiryReceived,
        ActivityType::QuoteSent,
    ];

    /// The name used in projections, the FFI and the JSON APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityType::Call => "call",
            ActivityType::Message => "message",
            ActivityType::Meeting => "meeting",
            ActivityType::Email => "email",
            ActivityType::Visit => "visit",
            ActivityType::PaymentFollowUp => "payment_follow_up",
            ActivityType::SampleSent => "sample_sent",
            ActivityType::InquiryReceived => "inquiry_received",
            ActivityType::QuoteSent => "quote_sent",
        }
    }

    /// The type named `s` (as [`ActivityType::as_str`] spells it).
    pub fn parse(s: &str) -> Option<ActivityType> {
        ActivityType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// What reps read.
    pub fn label_zh(self) -> &'static str {
        match self {
            ActivityType::Call => "电话",
            ActivityType::Message => "微信/消息",
            ActivityType::Meeting => "会议",
            ActivityType::Email => "邮件",
            ActivityType::Visit => "拜访",
            ActivityType::PaymentFollowUp => "回款跟进",
            ActivityType::SampleSent => "寄样",
            ActivityType::InquiryReceived => "询价",
            ActivityType::QuoteSent => "报价",
        }
    }
}

/// What comes next, and by when.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct NextAction {
    /// What the rep will do (送样品, 发报价, 约下周二拜访).
    pub what: String,
    /// When it is due; the phone reminds the rep then, offline.
    pub due_at: UnixMillis,
    /// When the rep marked it done.
    #[autosurgeon(missing = "Default::default")]
    pub done_at: Option<UnixMillis>,
}

/// The longest summary, in characters: a page of notes. Longer text belongs in an attachment.
pub const MAX_SUMMARY_CHARS: usize = 2_000;
/// The longest duration a follow-up may claim, seconds (a day).
pub const MAX_DURATION_S: i64 = 86_400;

/// A follow-up with a customer.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Activity {
    /// Document id.
    pub id: DocId,
    /// What kind of follow-up.
    pub activity_type: ActivityType,
    /// The customer.
    pub customer_id: DocId,
    /// The deal it was about, if any; it then counts as activity on the deal for the stall rules.
    #[autosurgeon(missing = "Default::default")]
    pub opportunity_id: Option<DocId>,
    /// The visit, for a [`ActivityType::Visit`] activity.
    #[autosurgeon(missing = "Default::default")]
    pub visit_id: Option<DocId>,
    /// The customer's contact it was with (a name from the customer's contacts, or free text).
    #[autosurgeon(missing = "Default::default")]
    pub contact: Option<String>,
    /// The number called or messaged, as dialled.
    #[autosurgeon(missing = "Default::default")]
    pub phone: Option<String>,
    /// When it happened (a call: when it started).
    pub at: UnixMillis,
    /// How long it took, seconds, when known.
    #[autosurgeon(missing = "Default::default")]
    pub duration_s: Option<i64>,
    /// What was said (沟通内容). Empty until the rep writes it: a call started from the phone is
    /// saved at once and summarised when the rep comes back.
    pub summary: String,
    /// How it ended (接通, 未接, 约好下次), free text.
    #[autosurgeon(missing = "Default::default")]
    pub outcome: Option<String>,
    /// What comes next.
    #[autosurgeon(missing = "Default::default")]
    pub next_action: Option<NextAction>,
    /// Who created it and when.
    pub provenance: Provenance,
}

impl Activity {
    /// Whether it says what was said: an "effective" follow-up, in the ownership and KPI rules.
    pub fn has_summary(&self) -> bool {
        !self.summary.trim().is_empty()
    }

    /// The next action's due time, while it is open.
    pub fn open_next_action_due(&self) -> Option<UnixMillis> {
        self.next_action.as_ref().filter(|n| n.done_at.is_none()).map(|n| n.due_at)
    }
}

/// The fields of a new activity.
#[derive(Debug, Clone, PartialEq)]
pub struct NewActivity {
    /// What kind of follow-up.
    pub activity_type: ActivityType,
    /// The customer (required).
    pub customer_id: DocId,
    /// The deal it was about.
    pub opportunity_id: Option<DocId>,
    /// The visit, for a visit activity.
    pub visit_id: Option<DocId>,
    /// The contact it was with.
    pub contact: Option<String>,
    /// The number called or messaged.
    pub phone: Option<String>,
    /// When it happened.
    pub at: UnixMillis,
    /// How long, seconds.
    pub duration_s: Option<i64>,
    /// What was said.
    pub summary: String,
    /// How it ended.
    pub outcome: Option<String>,
    /// What comes next.
    pub next_action: Option<NextAction>,
}

impl Draft for NewActivity {
    type Record = Activity;

    fn into_record(self, id: DocId, provenance: Provenance) -> Activity {
        Activity {
            id,
            activity_type: self.activity_type,
            customer_id: self.customer_id,
            opportunity_id: self.opportunity_id,
            visit_id: self.visit_id,
            contact: self.contact,
            phone: self.phone,
            at: self.at,
            duration_s: self.duration_s,
            summary: self.summary,
            outcome: self.outcome,
            next_action: self.next_action,
            provenance,
        }
    }
}

impl Record for Activity {
    const KIND: RecordKind = RecordKind::Activity;

    fn id(&self) -> DocId {
        self.id
    }

    fn provenance(&self) -> Provenance {
        self.provenance
    }

    fn validate(&self) -> Result<(), ValidationError> {
        let kind = Self::KIND;
        limit_text(kind, "summary", &self.summary, MAX_SUMMARY_CHARS)?;
        if let Some(contact) = &self.contact {
            require_text(kind, "contact", contact, 100)?;
        }
        if let Some(phone) = &self.phone {
            require_text(kind, "phone", phone, 40)?;
            if !phone.chars().any(|c| c.is_ascii_digit()) {
                return Err(ValidationError::new(kind, "phone", "has no digits; give the number as dialled"));
            }
        }
        if let Some(outcome) = &self.outcome {
            limit_text(kind, "outcome", outcome, 200)?;
        }
        if let Some(duration) = self.duration_s
            && !(0..=MAX_DURATION_S).contains(&duration)
        {
            return Err(ValidationError::new(
                kind,
                "duration_s",
                format!("is {duration} s; a follow-up lasts between 0 s and {MAX_DURATION_S} s (a day)"),
            ));
        }
        match (self.activity_type, self.visit_id) {
            (ActivityType::Visit, None) => {
                return Err(ValidationError::new(kind, "visit_id", "a visit activity must link its visit"));
            }
            (other, Some(_)) if other != ActivityType::Visit => {
                return Err(ValidationError::new(kind, "visit_id", "only a visit activity links a visit"));
            }
            _ => {}
        }
        if let Some(next) = &self.next_action {
            require_text(kind, "next_action.what", &next.what, 200)?;
            if next.due_at < self.at {
                return Err(ValidationError::new(
                    kind,
                    "next_action.due_at",
                    "is before the activity itself; a next action comes after it",
                ));
            }
            if let Some(done) = next.done_at
                && done < self.at
            {
                return Err(ValidationError::new(
                    kind,
                    "next_action.done_at",
                    "is before the activity itself",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::DeviceId;

    fn activity() -> Activity {
        NewActivity {
            activity_type: ActivityType::Call,
            customer_id: DocId::generate(),
            opportunity_id: None,
            visit_id: None,
            contact: Some("王经理".into()),
            phone: Some("0574-8888 1234".into()),
            at: 1_000_000,
            duration_s: Some(180),
            summary: "确认了二期注塑机的吨位".into(),
            outcome: Some("接通".into()),
            next_action: Some(NextAction {
                what: "周五前发报价".into(), due_at: 2_000_000, done_at: None
            }),
        }
        .into_record(
            DocId::generate(),
            Provenance { created_at: 1_000_000, created_by: DeviceId::from_bytes([1; 16]) },
        )
    }

    #[test]
    fn a_complete_follow_up_is_valid() {
        let a = activity();
        assert_eq!(a.validate(), Ok(()));
        assert!(a.has_summary());
        assert_eq!(a.open_next_action_due(), Some(2_000_000));
    }

    #[test]
    fn bad_follow_ups_are_refused_with_the_field_named() {
        type Break = Box<dyn Fn(&mut Activity)>;
        let cases: Vec<(&str, Break)> = vec![
            ("duration_s", Box::new(|a| a.duration_s = Some(-5))),
            ("duration_s", Box::new(|a| a.duration_s = Some(MAX_DURATION_S + 1))),
            ("summary", Box::new(|a| a.summary = "话".repeat(100_000))),
            ("next_action.due_at", Box::new(|a| a.next_action.as_mut().unwrap().due_at = 999_999)),
            ("next_action.what", Box::new(|a| a.next_action.as_mut().unwrap().what = "  ".into())),
            ("visit_id", Box::new(|a| a.activity_type = ActivityType::Visit)),
            ("visit_id", Box::new(|a| a.visit_id = Some(DocId::generate()))),
            ("contact", Box::new(|a| a.contact = Some(String::new()))),
            ("phone", Box::new(|a| a.phone = Some("王经理".into()))),
        ];
        for (field, break_it) in cases {
            let mut a = activity();
            break_it(&mut a);
            assert_eq!(a.validate().unwrap_err().field, field);
        }
    }

    #[test]
    fn type_names_round_trip() {
        for t in ActivityType::ALL {
            assert_eq!(ActivityType::parse(t.as_str()), Some(t));
        }
        assert_eq!(ActivityType::parse("fax"), None);
    }
}
