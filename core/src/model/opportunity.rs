//! A deal moving through the sales funnel.

use std::fmt;

use autosurgeon::{Hydrate, Reconcile};

use super::{Draft, Provenance, Record, RecordKind, ValidationError, limit_list, limit_text, require_text};
use crate::clock::UnixMillis;
use crate::ids::{DeviceId, DocId};

/// A funnel stage (DESIGN §4 Funnel). Stored by its English name; `label_zh` is what reps read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Reconcile, Hydrate)]
pub enum Stage {
    /// 初步接触 — first contact.
    FirstContact,
    /// 需求确认 — needs confirmed.
    NeedsConfirmed,
    /// 方案提交 — proposal submitted.
    ProposalSubmitted,
    /// 商务谈判 — commercial negotiation.
    Negotiation,
    /// 合同签订 — contract signing.
    ContractSigning,
    /// Won.
    Won,
    /// Lost.
    Lost,
}

impl Stage {
    /// Every stage, in funnel order.
    pub const ALL: [Stage; 7] = [
        Stage::FirstContact,
        Stage::NeedsConfirmed,
        Stage::ProposalSubmitted,
        Stage::Negotiation,
        Stage::ContractSigning,
        Stage::Won,
        Stage::Lost,
    ];

    /// The stage's name as stored in documents and projection tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::FirstContact => "FirstContact",
            Stage::NeedsConfirmed => "NeedsConfirmed",
            Stage::ProposalSubmitted => "ProposalSubmitted",
            Stage::Negotiation => "Negotiation",
            Stage::ContractSigning => "ContractSigning",
            Stage::Won => "Won",
            Stage::Lost => "Lost",
        }
    }

    /// Parses a stored stage name.
    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|stage| stage.as_str() == s)
    }

    /// The name reps see.
    pub fn label_zh(self) -> &'static str {
        match self {
            Stage::FirstContact => "初步接触",
            Stage::NeedsConfirmed => "需求确认",
            Stage::ProposalSubmitted => "方案提交",
            Stage::Negotiation => "商务谈判",
            Stage::ContractSigning => "合同签订",
            Stage::Won => "赢单",
            Stage::Lost => "丢单",
        }
    }

    /// Won and lost end the funnel.
    pub fn is_closed(self) -> bool {
        matches!(self, Stage::Won | Stage::Lost)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One move between stages, kept forever (backward moves too).
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct StageChange {
    /// The stage left, `None` for the first entry.
    #[autosurgeon(missing = "Default::default")]
    pub from: Option<Stage>,
    /// The stage entered.
    pub to: Stage,
    /// When, on the moving device's clock.
    pub at: UnixMillis,
    /// The device that made the move.
    pub by: DeviceId,
    /// Why, in the rep's words.
    #[autosurgeon(missing = "Default::default")]
    pub note: Option<String>,
}

/// A kind of document a deal must carry before it may enter a stage (TeamRules `stage_evidence`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Reconcile, Hydrate)]
pub enum EvidenceKind {
    /// 技术文件: the technical document that confirms the customer's needs.
    TechnicalDocument,
    /// 报价单: the quote.
    Quote,
    /// 合同: the contract signed by the customer.
    SignedContract,
}

impl EvidenceKind {
    /// Every kind, in funnel order.
    pub const ALL: [EvidenceKind; 3] =
        [EvidenceKind::TechnicalDocument, EvidenceKind::Quote, EvidenceKind::SignedContract];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::TechnicalDocument => "TechnicalDocument",
            EvidenceKind::Quote => "Quote",
            EvidenceKind::SignedContract => "SignedContract",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<EvidenceKind> {
        EvidenceKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The name reps see.
    pub fn label_zh(self) -> &'static str {
        match self {
            EvidenceKind::TechnicalDocument => "技术文件",
            EvidenceKind::Quote => "报价单",
            EvidenceKind::SignedContract => "签字合同",
        }
    }
}

impl fmt::Display for EvidenceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A document attached to a deal; its bytes are a content-addressed blob.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct DealEvidence {
    /// SHA-256 (hex) of the file.
    #[key]
    pub sha256: String,
    /// What the document is.
    pub kind: EvidenceKind,
    /// File name as the rep chose it.
    pub name: String,
    /// When it was attached, on the attaching device's clock.
    pub added_at: UnixMillis,
    /// The device that attached it.
    pub added_by: DeviceId,
}

/// An amount of money in the smallest unit of its currency (fen for CNY), so sums are exact.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Money {
    /// Amount in minor units.
    pub minor_units: i64,
    /// ISO 4217 code, e.g. `CNY`.
    pub currency: String,
}

/// A deal with a customer.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Opportunity {
    /// Document id.
    pub id: DocId,
    /// The customer.
    pub customer_id: DocId,
    /// The rep who owns the deal (user id or name as the team uses it).
    pub owner: String,
    /// Short description.
    pub title: String,
    /// Current stage.
    pub stage: Stage,
    /// When the current stage was entered.
    pub stage_entered_at: UnixMillis,
    /// Every stage move, oldest first.
    pub stage_history: Vec<StageChange>,
    /// Expected value.
    #[autosurgeon(missing = "Default::default")]
    pub amount: Option<Money>,
    /// The gross margin the deal earns (毛利), set when it is won; the KPI `gross_margin` sums it.
    #[autosurgeon(missing = "Default::default")]
    pub margin: Option<Money>,
    /// When the rep expects to close.
    #[autosurgeon(missing = "Default::default")]
    pub expected_close_at: Option<UnixMillis>,
    /// When the next action is due; the funnel's stall rules read this.
    #[autosurgeon(missing = "Default::default")]
    pub next_action_due_at: Option<UnixMillis>,
    /// Documents attached as stage evidence (technical document, quote, contract).
    #[autosurgeon(missing = "Default::default")]
    pub evidence: Vec<DealEvidence>,
    /// Who created it and when.
    pub provenance: Provenance,
}

impl Opportunity {
    /// Whether a document of `kind` is attached.
    pub fn has_evidence(&self, kind: EvidenceKind) -> bool {
        self.evidence.iter().any(|e| e.kind == kind)
    }
}

/// The fields a rep fills in to open a deal.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOpportunity {
    /// The customer (required).
    pub customer_id: DocId,
    /// Owning rep.
    pub owner: String,
    /// Short description (required).
    pub title: String,
    /// First stage, usually [`Stage::FirstContact`].
    pub stage: Stage,
    /// Expected value.
    pub amount: Option<Money>,
    /// Expected close.
    pub expected_close_at: Option<UnixMillis>,
    /// Next action due.
    pub next_action_due_at: Option<UnixMillis>,
}

impl Draft for NewOpportunity {
    type Record = Opportunity;

    fn into_record(self, id: DocId, provenance: Provenance) -> Opportunity {
        Opportunity {
            id,
            customer_id: self.customer_id,
            owner: self.owner,
            title: self.title,
            stage: self.stage,
            stage_entered_at: provenance.created_at,
            stage_history: vec![StageChange {
                from: None,
                to: self.stage,
                at: provenance.created_at,
                by: provenance.created_by,
                note: None,
            }],
            amount: self.amount,
            margin: None,
            expected_close_at: self.expected_close_at,
            next_action_due_at: self.next_action_due_at,
            evidence: Vec::new(),
            provenance,
        }
    }
}

impl Record for Opportunity {
    const KIND: RecordKind = RecordKind::Opportunity;

    fn id(&self) -> DocId {
        self.id
    }

    fn provenance(&self) -> Provenance {
        self.provenance
    }

    fn validate(&self) -> Result<(), ValidationError> {
        let kind = Self::KIND;
        require_text(kind, "title", &self.title, 200)?;
        limit_text(kind, "owner", &self.owner, 100)?;
        limit_list(kind, "evidence", &self.evidence, 50)?;
        for evidence in &self.evidence {
            require_text(kind, "evidence.name", &evidence.name, 200)?;
            if evidence.sha256.len() != 64 || !evidence.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ValidationError::new(kind, "evidence.sha256", "must be 64 hex digits"));
            }
        }
        for (field, money) in [("amount", &self.amount), ("margin", &self.margin)] {
            let Some(money) = money else { continue };
            if money.minor_units < 0 {
                return Err(ValidationError::new(kind, field, "must not be negative"));
            }
            if money.currency.len() != 3 || !money.currency.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(ValidationError::new(
                    kind,
                    field,
                    format!("currency \"{}\" is not an ISO 4217 code such as CNY", money.currency),
                ));
            }
        }
        Ok(())
    }
}
