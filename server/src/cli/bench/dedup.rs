//! `fieldsync bench dedup-local`: the phone's duplicate check (`Store::duplicate_candidates`)
//! against a store of 100,000 customers, and as the reference in the same run, the naive check
//! that compares the query with every customer's pre-normalised key in memory.
//!
//! Customers and queries come from a fixed-seed generator of Chinese manufacturer names
//! (region + 字号 + industry + legal form) and phones, so every run measures the same data.
//! Half the queries are the existing customers as another rep would type them (region or legal
//! form dropped, a character mistyped, 厂 added, the phone in another notation or missing); the
//! other half are new companies.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};
use fieldsync_core::dedup::{CustomerKey, Decision, compare};
use fieldsync_core::model::NewCustomer;
use fieldsync_core::{DocId, Store};
use serde_json::json;

use super::emit;
use crate::process::quantile;

/// What to run.
#[derive(Debug, Clone)]
pub struct DedupBench {
    /// Customers in the store.
    pub customers: u32,
    /// Duplicate checks timed.
    pub queries: u32,
    /// Queries also answered by the full in-memory scan (it is slow by design).
    pub reference_queries: u32,
    /// Where to put the store; a temporary directory when `None`.
    pub dir: Option<PathBuf>,
}

/// Runs the scenario and prints its result line.
pub fn run(bench: &DedupBench) -> Result<()> {
    if bench.customers == 0 || bench.queries == 0 {
        bail!("--customers and --queries must be at least 1");
    }
    let temp = tempfile::tempdir()?;
    let dir = bench.dir.clone().unwrap_or_else(|| temp.path().to_owned());
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("bench-dedup-{}.fieldsync", bench.customers));
    let _ = std::fs::remove_file(&path);

    let mut generator = Generator::new(0x5EED_D0D0_2026);
    let companies: Vec<Company> = (0..bench.customers).map(|_| generator.company()).collect();

    let started = Instant::now();
    let store = Store::open(&path)?;
    let mut ids: Vec<DocId> = Vec::with_capacity(companies.len());
    for chunk in companies.chunks(1000) {
        let drafts = chunk.iter().map(|c| NewCustomer {
            company_name: c.name.clone(),
            phones: c.phones.clone(),
            ..Default::default()
        });
        ids.extend(store.create_batch(drafts.collect())?.into_iter().map(|c| c.id));
    }
    let populate_s = started.elapsed().as_secs_f64();
    let thresholds = store.dedup_thresholds()?;

    let queries: Vec<Query> = (0..bench.queries).map(|_| generator.query(&companies)).collect();

    // Warm the page cache and the statement cache as a phone that has been in use would be.
    for query in queries.iter().take(50) {
        store.duplicate_candidates(&query.draft)?;
    }
    let load_before = load_average();
    let mut latencies = Vec::with_capacity(queries.len());
    let mut results = Vec::with_capacity(queries.len());
    for query in &queries {
        let started = Instant::now();
        let found = store.duplicate_candidates(&query.draft)?;
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        results.push(found);
    }
    // The machine is shared: a query that loses the CPU to another process for a scheduler slice
    // (~4 ms) shows that slice in its time. Two more passes, keeping each query's fastest time,
    // give the latency without that interference (the figure a phone not busy with other work
    // would see); both are printed.
    let mut best_of_three = latencies.clone();
    for _ in 0..2 {
        for (query, best) in queries.iter().zip(best_of_three.iter_mut()) {
            let started = Instant::now();
            store.duplicate_candidates(&query.draft)?;
            *best = best.min(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let load_after = load_average();

    let (mut duplicates, mut found_original, mut warned_original, mut same_original) =
        (0u32, 0u32, 0u32, 0u32);
    let (mut new_names, mut new_with_warning) = (0u32, 0u32);
    for (query, found) in queries.iter().zip(&results) {
        match query.original {
            Some(i) => {
                duplicates += 1;
                if let Some(hit) = found.iter().find(|c| c.customer.id == ids[i]) {
                    found_original += 1;
                    warned_original += u32::from(hit.warning);
                    same_original += u32::from(hit.decision == Decision::Same);
                }
            }
            None => {
                new_names += 1;
                new_with_warning += u32::from(found.iter().any(|c| c.warning));
            }
        }
    }
    let candidates_mean = results.iter().map(Vec::len).sum::<usize>() as f64 / results.len() as f64;

    // The reference: every customer's key normalised once, then each query compared with all.
    let keys: Vec<CustomerKey> = companies
        .iter()
        .map(|c| {
            let phones: Vec<&str> = c.phones.iter().map(String::as_str).collect();
            CustomerKey::new(&c.name, &phones, None)
        })
        .collect();
    let mut scan_latencies = Vec::new();
    let (mut scan_warnings, mut scan_warnings_found) = (0u32, 0u32);
    for (query, found) in queries.iter().zip(&results).take(bench.reference_queries as usize) {
        let started = Instant::now();
        let phones: Vec<&str> = query.draft.phones.iter().map(String::as_str).collect();
        let key = CustomerKey::new(&query.draft.company_name, &phones, None);
        let hits: Vec<usize> = keys
            .iter()
            .enumerate()
            .filter(|(_, k)| {
                let verdict = compare(&key, k, &thresholds);
                verdict.decision != Decision::Different && verdict.score >= thresholds.same_name
            })
            .map(|(i, _)| i)
            .collect();
        scan_latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        scan_warnings += hits.len() as u32;
        scan_warnings_found +=
            hits.iter().filter(|&&i| found.iter().any(|c| c.customer.id == ids[i])).count() as u32;
    }
    store.close()?;
    let file_mb = std::fs::metadata(&path)?.len() as f64 / 1_048_576.0;

    latencies.sort_by(f64::total_cmp);
    best_of_three.sort_by(f64::total_cmp);
    scan_latencies.sort_by(f64::total_cmp);
    let p50 = quantile(&latencies, 0.5);
    let scan_p50 = quantile(&scan_latencies, 0.5);
    let rate = |n: u32, of: u32| if of == 0 { f64::NAN } else { round(f64::from(n) / f64::from(of)) };
    emit(json!({
        "bench": "dedup-local",
        "customers": bench.customers,
        "queries": bench.queries,
        "p50_ms": round(p50),
        "p99_ms": round(quantile(&latencies, 0.99)),
        "max_ms": round(latencies.last().copied().unwrap_or(f64::NAN)),
        "best_of_3_p50_ms": round(quantile(&best_of_three, 0.5)),
        "best_of_3_p99_ms": round(quantile(&best_of_three, 0.99)),
        "best_of_3_max_ms": round(best_of_three.last().copied().unwrap_or(f64::NAN)),
        "load_average_1m": [load_before, load_after],
        "target_p99_ms": 2,
        "duplicate_queries": duplicates,
        "hit_rate": rate(found_original, duplicates),
        "hit_rate_warning": rate(warned_original, duplicates),
        "hit_rate_same": rate(same_original, duplicates),
        "new_name_queries": new_names,
        "new_names_with_a_warning": rate(new_with_warning, new_names),
        "candidates_mean": round(candidates_mean),
        "reference_queries": scan_latencies.len(),
        "reference_p50_ms": round(scan_p50),
        "reference_p99_ms": round(quantile(&scan_latencies, 0.99)),
        "ratio_reference_to_index_p50": round(scan_p50 / p50),
        "recall_of_scan_warnings": rate(scan_warnings_found, scan_warnings),
        "scan_warnings": scan_warnings,
        "populate_seconds": round(populate_s),
        "file_mb": round(file_mb),
        "reference": "compare() of the query against every customer's key, normalised beforehand, in memory",
    }));
    Ok(())
}

/// The 1-minute load average (Linux), to show how busy the shared machine was.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// A generated customer: its registered name and parts, and its phones.
#[derive(Debug, Clone)]
pub(crate) struct Company {
    pub(crate) name: String,
    city: usize,
    brand: Vec<char>,
    industry: &'static str,
    legal: &'static str,
    pub(crate) phones: Vec<String>,
    mobile: Option<String>,
    landline: Option<(String, String)>,
}

/// A duplicate check to time, and the customer it duplicates (for the hit rate).
#[derive(Debug)]
pub(crate) struct Query {
    pub(crate) draft: NewCustomer,
    pub(crate) original: Option<usize>,
}

/// (city, area code, districts that appear in names)
const CITIES: &[(&str, &str, &[&str])] = &[
    ("苏州", "0512", &["昆山", "吴江", "常熟", "张家港"]),
    ("无锡", "0510", &["江阴", "宜兴"]),
    ("常州", "0519", &["武进", "金坛"]),
    ("宁波", "0574", &["慈溪", "余姚", "北仑"]),
    ("杭州", "0571", &["萧山", "余杭"]),
    ("温州", "0577", &["乐清", "瑞安"]),
    ("台州", "0576", &["温岭", "玉环"]),
    ("东莞", "0769", &["长安", "虎门"]),
    ("佛山", "0757", &["顺德", "南海"]),
    ("深圳", "0755", &["宝安", "龙岗"]),
    ("上海", "021", &["松江", "嘉定"]),
    ("青岛", "0532", &["胶州", "黄岛"]),
    ("泉州", "0595", &["晋江", "石狮"]),
    ("合肥", "0551", &["肥西"]),
    ("武汉", "027", &["汉阳"]),
    ("成都", "028", &["双流"]),
];

/// Characters of 字号 (brand names), about 250 of the common ones; repeats are dropped.
const BRAND_CHARS: &str = concat!(
    "精工华丰鑫达源盛泰恒宏瑞通利诚信佳美德旺昌隆兴博创科亿金宇天东方永安康汇联腾飞凯捷威顺祥荣",
    "嘉明森远锦铭致卓越众合润泽晟昊弘骏奥迪辉晨航豪伟峰裕尚新力星海正坤瀚欧岳鼎璟麒冠拓迈朗峻逸",
    "炜皓煜钧铄韬熠翔耀蓝灏策驰彬楷煊宸霖沃涵澄舜坚固吉福晶亮光图开泓澜昕崇纬聚贝赫誉千友群蒙雅",
    "桐茂柏松竹梓琨璞钰铂春秋红绿青白紫云雷霆虹彩丽秀英杰俊贤良善仁义礼智忠勤强盈满富贵发运如意",
    "中南北西江河湖山川林木石玉银铜铁钢宝珠鸿鹏鹰龙凤麟虎狮象马骐骥雄浩洋涛波澎湃清源汉唐宋明",
    "旭日阳朝晖昱晓曦夏冬兰菊梅桂莲荷芳华艺术智慧捷达高远大",
);

const INDUSTRIES: &[&str] = &[
    "机械",
    "模具",
    "电子",
    "五金",
    "塑胶",
    "精密机械",
    "自动化",
    "包装",
    "化工",
    "纺织",
    "电气",
    "科技",
    "新材料",
    "机电",
    "塑胶制品",
    "五金制品",
    "电子科技",
    "智能装备",
    "汽车零部件",
    "轴承",
    "阀门",
    "液压",
    "不锈钢",
    "印刷包装",
    "电线电缆",
    "光电",
    "环保设备",
    "金属制品",
    "橡塑",
    "精细化工",
    "针织",
    "照明",
    "机械制造",
    "精密模具",
    "电子材料",
    "紧固件",
    "铸造",
    "锻造",
    "钣金",
    "注塑",
    "冲压",
    "密封件",
    "弹簧",
    "齿轮",
    "泵业",
    "风机",
    "涂料",
    "胶粘剂",
    "线束",
    "传感器",
    "工业气体",
    "刀具",
    "磨料磨具",
    "仪器仪表",
    "电机",
    "变压器",
    "玻璃",
    "陶瓷",
    "复合材料",
    "管业",
    "标准件",
    "链条",
    "滤清器",
    "减速机",
    "机床",
    "焊接设备",
    "净化设备",
    "纸业",
    "食品机械",
    "农业机械",
    "起重设备",
    "热处理",
];

const LEGAL_FORMS: &[&str] = &["有限公司", "有限公司", "有限公司", "股份有限公司", "有限责任公司", "厂"];

/// splitmix64: small, fast, and the same sequence on every machine.
#[derive(Debug)]
pub(crate) struct Generator {
    state: u64,
    brand_chars: Vec<char>,
    next_mobile: u64,
}

impl Generator {
    pub(crate) fn new(seed: u64) -> Self {
        let mut brand_chars: Vec<char> = Vec::new();
        for c in BRAND_CHARS.chars() {
            if !brand_chars.contains(&c) {
                brand_chars.push(c);
            }
        }
        Generator { state: seed, brand_chars, next_mobile: 0 }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn brand_char(&mut self) -> char {
        let at = self.below(self.brand_chars.len());
        self.brand_chars[at]
    }

    fn brand(&mut self) -> Vec<char> {
        let len = match self.below(100) {
            0..70 => 2,
            70..92 => 3,
            _ => 4,
        };
        let mut brand: Vec<char> = Vec::with_capacity(len);
        while brand.len() < len {
            let c = self.brand_char();
            if !brand.contains(&c) {
                brand.push(c);
            }
        }
        brand
    }

    /// Mobiles are unique: a counter scrambled into the 1[3-9]x range.
    fn mobile(&mut self) -> String {
        self.next_mobile += 1;
        let prefix = self.pick(&["135", "138", "139", "150", "158", "186", "189", "177", "199"]);
        format!("{prefix}{:08}", (self.next_mobile * 7_919 + self.below(7) as u64) % 100_000_000)
    }

    pub(crate) fn company(&mut self) -> Company {
        let city = self.below(CITIES.len());
        let (city_name, area, districts) = CITIES[city];
        let brand = self.brand();
        let industry = self.pick(INDUSTRIES);
        let legal = self.pick(LEGAL_FORMS);
        let brand_text: String = brand.iter().collect();
        let name = match self.below(100) {
            0..50 => format!("{city_name}{brand_text}{industry}{legal}"),
            50..62 => format!("{city_name}市{brand_text}{industry}{legal}"),
            62..75 => format!("{}{brand_text}{industry}{legal}", self.pick(districts)),
            75..85 => format!("{brand_text}{industry}（{city_name}）{legal}"),
            _ => format!("{brand_text}{industry}{legal}"),
        };
        let mobile = self.chance(80).then(|| self.mobile());
        // 3 % share a park switchboard (one of a few per city); the rest have their own line.
        let landline = (mobile.is_none() || self.chance(40)).then(|| {
            let local = if self.chance(3) {
                format!("6888{:04}", self.below(5))
            } else {
                format!("{}{:07}", self.pick(&['5', '6', '8']), self.below(10_000_000))
            };
            (area.to_owned(), local)
        });
        let mut phones = Vec::new();
        if let Some(m) = &mobile {
            phones.push(m.clone());
        }
        if let Some((area, local)) = &landline {
            phones.push(format!("{area}-{local}"));
        }
        Company { name, city, brand, industry, legal, phones, mobile, landline }
    }

    /// An existing customer as another rep types it, or a new company.
    pub(crate) fn query(&mut self, companies: &[Company]) -> Query {
        if self.chance(50) {
            let fresh = self.company();
            let draft = NewCustomer { company_name: fresh.name, phones: fresh.phones, ..Default::default() };
            return Query { draft, original: None };
        }
        let i = self.below(companies.len());
        let c = &companies[i];
        let (city_name, _, _) = CITIES[c.city];
        let mut brand = c.brand.clone();
        let mut industry = c.industry.to_owned();
        let mut suffix = c.legal.to_owned();
        let mut region = String::new();
        match self.below(6) {
            0 => region = city_name.to_owned(),
            1 => suffix.clear(),
            2 => {
                let at = self.below(brand.len());
                brand[at] = self.brand_char();
            }
            3 if brand.len() >= 3 => {
                brand.remove(self.below(brand.len()));
            }
            3 => suffix = "厂".into(),
            4 => {
                region = format!("{city_name}市");
                suffix = "有限公司".into();
            }
            _ => industry.push('厂'),
        }
        let brand_text: String = brand.iter().collect();
        let name = format!("{region}{brand_text}{industry}{suffix}");
        let phones = match self.below(10) {
            0..4 => match (&c.mobile, &c.landline) {
                (Some(m), _) => vec![format!("+86 {} {} {}", &m[..3], &m[3..7], &m[7..])],
                (None, Some((area, local))) => vec![format!("({area}) {local}")],
                (None, None) => Vec::new(),
            },
            4..7 => Vec::new(),
            _ => vec![self.mobile()],
        };
        Query { draft: NewCustomer { company_name: name, phones, ..Default::default() }, original: Some(i) }
    }
}
