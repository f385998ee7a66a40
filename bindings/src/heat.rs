//! Heat tags through the FFI (docs/heat-tags.md): a customer's 热/温/冷 and its tags, and the
//! customers carrying a tag. Thin copies of `fieldsync_core` calls at the phone's clock; names
//! are spelled as in the docs (`hot`, `recent_inquiry`, …).

use fieldsync_core::heat::{Heat, HeatFilter};

use crate::FfiError;
use crate::capture::id;
use crate::error::guard;
use crate::store::{FfiCustomerSummary, FieldStore, records};

/// A customer's heat, computed when asked (never stored).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FfiHeat {
    /// `hot`, `warm` or `cold`.
    pub level: String,
    /// The level as reps read it (热, 温, 冷).
    pub level_label: String,
    /// `recent_inquiry`, `sample_sent`, `visited`, `open_deal`, `late_stage_deal`, `new_lead`,
    /// `dormant`, in that order.
    pub tags: Vec<String>,
    /// The tags as reps read them (询价, 寄样, …), in the same order.
    pub tag_labels: Vec<String>,
    /// The latest touch, Unix ms; null when never touched.
    pub last_touch_at: Option<i64>,
}

impl From<Heat> for FfiHeat {
    fn from(heat: Heat) -> Self {
        FfiHeat {
            level: heat.level.as_str().to_owned(),
            level_label: heat.level.label_zh().to_owned(),
            tags: heat.tags.iter().map(|t| t.as_str().to_owned()).collect(),
            tag_labels: heat.tags.iter().map(|t| t.label_zh().to_owned()).collect(),
            last_touch_at: heat.last_touch_at,
        }
    }
}

#[uniffi::export]
impl FieldStore {
    /// A customer's heat now. `NotFound` for a customer not on this phone.
    pub fn customer_heat(&self, customer_id: String) -> Result<FfiHeat, FfiError> {
        guard(|| {
            let store = self.core();
            Ok(store.customer_heat(id(&customer_id)?, store.now_ms())?.into())
        })
    }

    /// Customers whose heat now is `tag` — a level (`hot`, `warm`, `cold`) or a tag name — most
    /// recently touched first, at most `limit` (≤ 5000). An unknown name is `InvalidInput`
    /// listing the names that exist.
    pub fn customers_by_tag(&self, tag: String, limit: u32) -> Result<Vec<FfiCustomerSummary>, FfiError> {
        guard(|| {
            let filter = HeatFilter::parse(&tag)?;
            let store = self.core();
            Ok(records(store.customers_by_tag(filter, store.now_ms(), limit)?))
        })
    }
}
