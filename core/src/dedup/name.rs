//! Company names reduced to a comparable core (字号 + industry words), and the similarity of two
//! such names. See the module documentation of `dedup` for the formula.

use super::fold_width;
use super::region::{LATIN_REGIONS, Level, regions};

/// A company name split into the part that identifies the company and the parts that do not.
///
/// `苏州市精工机械有限公司` becomes core `精工机械`, region `苏州`, legal form `有限公司`.
/// Industry words (机械, 模具, 科技, …) stay in the core: they tell companies of one owner apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedName {
    /// The identifying part: lower case, half-width, no punctuation, no region prefix, no legal
    /// form. Chinese characters are joined without spaces; Latin words are separated by one
    /// space. For a branch it ends with the branch designation (`精工机械苏州分公司`).
    pub core: String,
    /// The region the name was qualified with, without 省/市/区/县 (`苏州`), taken from a bracket
    /// (`精工机械（苏州）有限公司`) if there is one, else the most specific prefix.
    pub region: Option<String>,
    /// The legal-form words removed from the end (`有限公司`, `集团有限公司`, `co ltd`).
    pub legal_form: Option<String>,
    /// True when the name is a branch (分公司, 分厂, 办事处, … or `branch`): a branch is its own
    /// customer, so it is never merged with its head office on the name alone.
    pub is_branch: bool,
    /// Byte length of the head-office part of `core`; the rest is the branch designation.
    head_len: usize,
}

impl NormalizedName {
    /// The core of the head office: `core` without the branch designation (`精工机械` for
    /// `精工机械苏州分公司`). Equal to `core` when the name is not a branch.
    pub fn head_office_core(&self) -> &str {
        &self.core[..self.head_len]
    }

    fn branch_designation(&self) -> &str {
        &self.core[self.head_len..]
    }
}

/// Score ceiling when the cores differ by a whole word (industry, subsidiary, extra word).
const WORD_CHANGE_CAP: f64 = 0.75;
/// Score of a core against the same core with a short head added (likely an unlisted place).
const UNLISTED_PLACE_SCORE: f64 = 0.9;
/// Shortest core (characters) whose added head is read as a place: brand plus industry word.
const MIN_CORE_FOR_ADDED_PLACE: usize = 4;
/// Score ceiling when both names carry regions that cannot be the same place.
const REGION_CONFLICT_CAP: f64 = 0.7;
/// Score ceiling for a branch against its head office or against another branch.
const BRANCH_CAP: f64 = 0.7;

/// Normalises a company name as typed by a rep or read from a business card.
///
/// Folds full-width forms, lower-cases, drops punctuation and brackets (keeping bracketed text
/// unless it is only a region), removes legal-form suffixes (Chinese and English) and region
/// prefixes, and marks branches. Never fails: a name that is all region or all legal form keeps
/// those words in its core rather than becoming empty.
pub fn normalize_company_name(raw: &str) -> NormalizedName {
    let text: String = raw.chars().map(fold_width).flat_map(char::to_lowercase).collect();

    let mut tokens = Vec::new();
    let mut bracket_region = None;
    for piece in split_brackets(&text) {
        let piece_tokens = tokenize(&piece.text);
        match piece.bracketed.then(|| region_only(&piece_tokens)).flatten() {
            Some(region) => bracket_region = Some(region),
            None => tokens.extend(piece_tokens),
        }
    }

    let mut legal = Vec::new();
    let mut prefix_regions: Vec<(String, Level)> = Vec::new();
    let mut designation: Option<Vec<Token>> = None;
    // Strip until nothing changes, so that normalising the core again changes nothing:
    // `XX有限公司苏州分公司` needs the branch split off before `有限公司` is at the end, and
    // `苏州精工机械厂有限公司` needs two legal suffixes removed.
    loop {
        let before = tokens.len();
        if designation.is_none()
            && let Some(n) = branch_marker_at_end(&tokens)
        {
            designation = Some(tokens.split_off(tokens.len() - n));
        }
        if let Some(designation) = designation.as_mut() {
            while take_branch_region(&mut tokens, designation) {}
            if let Some(range) = legal_form_before_place(&tokens) {
                legal.extend(tokens.drain(range));
            }
        }
        if let Some(n) = legal_suffix_at_end(&tokens) {
            let removed = tokens.split_off(tokens.len() - n);
            legal.splice(0..0, removed);
        }
        if let Some(found) = region_at_start(&tokens, false) {
            if weight(&tokens[found.len..]) >= 2 {
                tokens.drain(..found.len);
                prefix_regions.push((found.name.to_owned(), found.level));
            }
        } else if let Some(len) = unlisted_place_at_start(&tokens) {
            let place = render(&tokens[..len - 1]);
            tokens.drain(..len);
            prefix_regions.push((place, Level::Zone));
        }
        if tokens.len() == before {
            break;
        }
    }

    let head_len = render(&tokens).len();
    let is_branch = designation.is_some();
    tokens.extend(designation.unwrap_or_default());
    let region = bracket_region
        .map(str::to_owned)
        .or_else(|| prefix_regions.into_iter().rev().max_by_key(|(_, level)| *level).map(|(name, _)| name));

    NormalizedName {
        core: render(&tokens),
        region,
        legal_form: (!legal.is_empty()).then(|| render(&legal)),
        is_branch,
        head_len,
    }
}

/// Similarity of two normalised names in [0, 1]; 1 for equal cores (and no region or branch
/// conflict). See the `dedup` module documentation for the formula and the reasons behind it.
pub fn name_similarity(a: &NormalizedName, b: &NormalizedName) -> f64 {
    compare_names(a, b).score
}

/// The similarity together with the facts that capped it, for the verdict's reasons.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct NameComparison {
    /// What [`name_similarity`] returns.
    pub score: f64,
    /// The cores differ by a whole word rather than a typo.
    pub word_differs: bool,
    /// Both names carry regions that cannot be the same place.
    pub regions_differ: bool,
    /// One is a branch and the other is not, or they are different branches.
    pub branch_differs: bool,
}

pub(super) fn compare_names(a: &NormalizedName, b: &NormalizedName) -> NameComparison {
    let branch_differs = a.is_branch != b.is_branch || a.branch_designation() != b.branch_designation();
    let (mut score, word_differs) = if branch_differs {
        let (score, word) = core_similarity(a.head_office_core(), b.head_office_core());
        (score.min(BRANCH_CAP), word)
    } else {
        let (score, word) = core_similarity(&a.core, &b.core);
        match without_common_filler(&a.core, &b.core) {
            Some((x, y)) if word => {
                let (bare, bare_word) = core_similarity(&x, &y);
                if bare > score { (bare, bare_word) } else { (score, word) }
            }
            _ => (score, word),
        }
    };
    let regions_differ = match (&a.region, &b.region) {
        (Some(x), Some(y)) => !regions_compatible(x, y),
        _ => false,
    };
    if regions_differ {
        score = score.min(REGION_CONFLICT_CAP);
    }
    NameComparison { score, word_differs, regions_differ, branch_differs }
}

/// Business words a company adds to or drops from its own name without becoming another company
/// (`凯丰注塑` / `凯丰注塑科技`, `光铭五金` / `光铭五金实业发展`): the organisation and generic
/// industry filler of registered names. Words for a separate business of the same owner (商贸,
/// 销售, 进出口, 投资, 控股, an industry word such as 模具) are not filler, and two different
/// filler words (`液压科技` / `液压贸易`, a maker and perhaps its trading company) are not
/// discounted either.
#[rustfmt::skip]
const FILLER_WORDS: &[&str] = &[
    "科技", "技术", "实业", "发展", "工贸", "贸易", "制造", "生产", "加工", "制品", "集团", "国际",
    "工业", "产业", "股份", "有限", "厂",
];

/// The shortest core (characters) left after filler is taken off: a 字号 and an industry word
/// (`凯丰注塑`). A bare 字号 with filler (`璞纬实业` / `璞纬集团`) is a group and its
/// subsidiary as often as one company.
const MIN_CORE_WITHOUT_FILLER: usize = 4;

/// `core` without filler words at its end (repeatedly: `实业发展`), and the words taken off.
fn strip_filler(core: &str) -> (&str, Vec<&'static str>) {
    let mut rest = core;
    let mut taken = Vec::new();
    'strip: loop {
        for word in FILLER_WORDS {
            if let Some(shorter) = rest.strip_suffix(word)
                && shorter.chars().count() >= MIN_CORE_WITHOUT_FILLER
            {
                rest = shorter;
                taken.push(*word);
                continue 'strip;
            }
        }
        return (rest, taken);
    }
}

/// Both cores without their trailing filler, when the filler is what tells them apart and is
/// compatible: one side's filler is part of the other's (added or dropped words), not two
/// different words (`液压科技` / `液压贸易` may be the maker and its trading company).
fn without_common_filler(a: &str, b: &str) -> Option<(String, String)> {
    let (bare_a, filler_a) = strip_filler(a);
    let (bare_b, filler_b) = strip_filler(b);
    if filler_a.is_empty() && filler_b.is_empty() {
        return None;
    }
    let compatible =
        filler_a.iter().all(|w| filler_b.contains(w)) || filler_b.iter().all(|w| filler_a.contains(w));
    compatible.then(|| (bare_a.to_owned(), bare_b.to_owned()))
}

/// Similarity of two cores, and whether they differ by a whole word.
fn core_similarity(a: &str, b: &str) -> (f64, bool) {
    if a.is_empty() || b.is_empty() {
        return (0.0, false);
    }
    if a == b {
        return (1.0, false);
    }
    // Jaro–Winkler's greedy matching depends on argument order; fix the order for symmetry.
    let (a, b) = if (a.len(), a) <= (b.len(), b) { (a, b) } else { (b, a) };
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();

    let jw = jaro_winkler(&a, &b);
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let max_suffix = a.len().min(b.len()) - prefix;
    let suffix = a.iter().rev().zip(b.iter().rev()).take(max_suffix).take_while(|(x, y)| x == y).count();
    let (middle_a, middle_b) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let distance = osa_distance(middle_a, middle_b);

    let substitution = !middle_a.is_empty() && !middle_b.is_empty();
    let typo = distance <= 1 && !(substitution && industry_word_changed(&a, &b, prefix, suffix));
    if typo {
        return (jw, false);
    }
    // Registered names put the place first (行政区划 + 字号 + 行业 + 组织形式), so a name that only
    // adds a short head to an otherwise complete core most likely adds a place the region list
    // lacks (`越西弘众精密模具` vs `弘众精密模具`).
    let added_head = if prefix == 0 && middle_a.is_empty() { middle_b } else { &[][..] };
    if suffix >= MIN_CORE_FOR_ADDED_PLACE && looks_like_place(added_head) {
        return (UNLISTED_PLACE_SCORE, false);
    }
    let longest = a.len().max(b.len()) as f64;
    let edit_similarity = 1.0 - distance as f64 / longest;
    (jw.min(edit_similarity).min(WORD_CHANGE_CAP), true)
}

/// Two or three Chinese characters, or one Latin word and its space: the size of a place name.
fn looks_like_place(head: &[char]) -> bool {
    let all_han = head.iter().all(|c| is_han(*c));
    let latin_word = head.last() == Some(&' ')
        && head[..head.len() - 1].iter().all(|c| c.is_alphanumeric() && !is_han(*c));
    (all_han && (2..=3).contains(&head.len())) || (latin_word && head.len() >= 4)
}

/// Jaro–Winkler similarity with the usual prefix scale 0.1 and prefix length at most 4.
fn jaro_winkler(a: &[char], b: &[char]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let window = (a.len().max(b.len()) / 2).saturating_sub(1);
    let mut b_taken = vec![false; b.len()];
    let mut a_matches = Vec::with_capacity(a.len());
    for (i, ca) in a.iter().enumerate() {
        let (lo, hi) = (i.saturating_sub(window), (i + window + 1).min(b.len()));
        if let Some(j) = (lo..hi).find(|&j| !b_taken[j] && b[j] == *ca) {
            b_taken[j] = true;
            a_matches.push(*ca);
        }
    }
    if a_matches.is_empty() {
        return 0.0;
    }
    let b_matches = b.iter().zip(&b_taken).filter(|(_, taken)| **taken).map(|(c, _)| c);
    let half_transpositions = a_matches.iter().zip(b_matches).filter(|(x, y)| x != y).count();
    let m = a_matches.len() as f64;
    let t = half_transpositions as f64 / 2.0;
    let jaro = (m / a.len() as f64 + m / b.len() as f64 + (m - t) / m) / 3.0;
    let prefix = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count() as f64;
    jaro + prefix * 0.1 * (1.0 - jaro)
}

/// Optimal string alignment distance: Levenshtein plus adjacent transpositions, which are the
/// commonest slip when typing Latin names.
fn osa_distance(a: &[char], b: &[char]) -> usize {
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

/// True when the changed characters sit in industry words on both sides and those words differ
/// (电子 → 电气): one character apart, but a different business.
fn industry_word_changed(a: &[char], b: &[char], prefix: usize, suffix: usize) -> bool {
    let words_a = industry_words_over(a, prefix, a.len() - suffix);
    let words_b = industry_words_over(b, prefix, b.len() - suffix);
    !words_a.is_empty() && !words_b.is_empty() && words_a.iter().all(|w| !words_b.contains(w))
}

/// Industry words occurring in `s` that overlap the character range `start..end`.
fn industry_words_over(s: &[char], start: usize, end: usize) -> Vec<&'static str> {
    INDUSTRY_WORDS
        .iter()
        .copied()
        .filter(|word| {
            let word: Vec<char> = word.chars().collect();
            s.windows(word.len())
                .enumerate()
                .any(|(i, window)| window == word && i < end && i + word.len() > start)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Tokens

/// A unit of a name: one Chinese (or other ideographic/syllabic) character, or one Latin word.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Han(char),
    Word(String),
}

/// Chinese (and other CJK) characters: they form words without spaces.
pub(crate) fn is_han(c: char) -> bool {
    matches!(c,
        '\u{3007}'
        | '\u{3041}'..='\u{3096}'
        | '\u{30A1}'..='\u{30FA}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{AC00}'..='\u{D7AF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{3134F}')
}

/// Splits text into tokens; everything that is neither ideographic nor alphanumeric separates.
fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if !is_han(c) && c.is_alphanumeric() {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            tokens.push(Token::Word(std::mem::take(&mut word)));
        }
        if is_han(c) {
            tokens.push(Token::Han(c));
        }
    }
    if !word.is_empty() {
        tokens.push(Token::Word(word));
    }
    tokens
}

/// Joins tokens back into text: Chinese characters without spaces, Latin words with one space.
fn render(tokens: &[Token]) -> String {
    let mut out = String::new();
    let mut previous_was_word = false;
    for token in tokens {
        match token {
            Token::Han(c) => {
                out.push(*c);
                previous_was_word = false;
            }
            Token::Word(w) => {
                if previous_was_word {
                    out.push(' ');
                }
                out.push_str(w);
                previous_was_word = true;
            }
        }
    }
    out
}

/// How much of a name the tokens carry: a Latin word counts like two characters.
fn weight(tokens: &[Token]) -> usize {
    tokens.iter().map(|t| if matches!(t, Token::Word(_)) { 2 } else { 1 }).sum()
}

/// The leading run of Chinese characters, as a string.
fn leading_han(tokens: &[Token]) -> String {
    tokens
        .iter()
        .map_while(|t| match t {
            Token::Han(c) => Some(*c),
            Token::Word(_) => None,
        })
        .collect()
}

/// The trailing run of Chinese characters, as a string.
fn trailing_han(tokens: &[Token]) -> String {
    let mut chars: Vec<char> = tokens
        .iter()
        .rev()
        .map_while(|t| match t {
            Token::Han(c) => Some(*c),
            Token::Word(_) => None,
        })
        .collect();
    chars.reverse();
    chars.into_iter().collect()
}

struct Piece {
    text: String,
    bracketed: bool,
}

const OPENING_BRACKETS: &[char] = &['(', '[', '{', '<', '【', '〔', '「', '『', '《', '〈', '〖'];
const CLOSING_BRACKETS: &[char] = &[')', ']', '}', '>', '】', '〕', '」', '』', '》', '〉', '〗'];

/// Splits text into bracketed and unbracketed pieces. Only innermost bracket pairs make
/// bracketed pieces, so a name wrapped whole in 「…」 or 【…】 still has its `（苏州）` recognised.
/// Any closing bracket closes any opening one, because people mix them (`（苏州)`); an unclosed
/// bracket is read as plain text.
fn split_brackets(text: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut inside = false;
    let mut flush = |current: &mut String, bracketed: bool| {
        if !current.is_empty() {
            pieces.push(Piece { text: std::mem::take(current), bracketed });
        }
    };
    for c in text.chars() {
        if OPENING_BRACKETS.contains(&c) {
            flush(&mut current, false);
            inside = true;
        } else if CLOSING_BRACKETS.contains(&c) {
            flush(&mut current, inside);
            inside = false;
        } else {
            current.push(c);
        }
    }
    flush(&mut current, false);
    pieces
}

// ---------------------------------------------------------------------------------------------
// Legal forms and branches

/// Chinese legal-form and business-type suffixes. 厂 is here so that 精工机械厂 and 精工机械有限公司
/// compare equal; industry words are not. 制造厂, 加工厂 and 工厂 are deliberately absent: only
/// the 厂 goes, so that 机械制造厂 matches 机械制造有限公司 and 化工厂 keeps its 化工.
#[rustfmt::skip]
const LEGAL_SUFFIXES_HAN: &[&str] = &[
    "股份有限公司", "有限责任公司", "股份合作公司", "个人独资企业", "个体工商户", "有限公司",
    "股份公司", "合伙企业", "普通合伙", "有限合伙", "总公司", "工作室", "经营部", "门市部",
    "合作社", "公司", "集团", "股份", "商行", "商店", "厂",
];

/// English legal-form words, matched as whole words at the end (`Co., Ltd.` → `co`, `ltd`).
#[rustfmt::skip]
const LEGAL_WORDS_LATIN: &[&str] = &[
    "co", "ltd", "coltd", "limited", "inc", "incorporated", "corp", "corporation", "company",
    "group", "llc", "plc", "gmbh", "pte", "pty", "factory",
];

/// Markers of a branch (a separate entity under the head office's name).
#[rustfmt::skip]
const BRANCH_MARKERS_HAN: &[&str] = &[
    "分公司", "办事处", "分厂", "分店", "分部", "分行", "支行", "分所", "分院",
];

/// Number of trailing tokens that form one legal-form suffix, if removing them leaves something.
fn legal_suffix_at_end(tokens: &[Token]) -> Option<usize> {
    let n = match tokens.last()? {
        Token::Word(w) => usize::from(LEGAL_WORDS_LATIN.contains(&w.as_str())),
        Token::Han(_) => {
            let tail = trailing_han(tokens);
            LEGAL_SUFFIXES_HAN
                .iter()
                .filter(|s| tail.ends_with(**s))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        }
    };
    (n > 0 && n < tokens.len()).then_some(n)
}

/// In a branch name whose place the region list does not know (`XX有限公司越西分公司`, with the
/// designation already removed), the head office's legal form sits in front of that place.
/// Returns the token range of that legal form so that the head office part matches `XX`.
fn legal_form_before_place(tokens: &[Token]) -> Option<std::ops::Range<usize>> {
    const LONGEST_PLACE: usize = 4;
    if legal_suffix_at_end(tokens).is_some() {
        return None;
    }
    (1..=LONGEST_PLACE.min(tokens.len())).find_map(|place_len| {
        let place_start = tokens.len() - place_len;
        if !tokens[place_start..].iter().all(|t| matches!(t, Token::Han(_))) {
            return None;
        }
        let n = legal_suffix_at_end(&tokens[..place_start]).filter(|&n| n >= 2)?;
        Some(place_start - n..place_start)
    })
}

/// Number of trailing tokens that form a branch marker (分公司, 办事处, `branch office`, …).
fn branch_marker_at_end(tokens: &[Token]) -> Option<usize> {
    match tokens.last()? {
        Token::Word(w) if w == "branch" => Some(1),
        Token::Word(w) if w == "office" => match tokens.len().checked_sub(2).map(|i| &tokens[i]) {
            Some(Token::Word(b)) if b == "branch" => Some(2),
            _ => None,
        },
        Token::Word(_) => None,
        Token::Han(_) => {
            let tail = trailing_han(tokens);
            BRANCH_MARKERS_HAN.iter().find(|m| tail.ends_with(**m)).map(|m| m.chars().count())
        }
    }
}

/// Moves the region at the end of the head office part into the branch designation, in
/// canonical form (`苏州市` → `苏州`). Keeps at least one token in the head office part.
fn take_branch_region(tokens: &mut Vec<Token>, designation: &mut Vec<Token>) -> bool {
    let Some((start, found)) = region_ending_at(tokens, tokens.len()).filter(|(start, _)| *start > 0) else {
        return false;
    };
    let mention = tokens.split_off(start);
    let canonical = if found.latin { mention } else { found.name.chars().map(Token::Han).collect() };
    designation.splice(0..0, canonical);
    true
}

// ---------------------------------------------------------------------------------------------
// Regions

/// A region found in a name: its canonical name, level, and how many tokens its mention took.
struct RegionMatch {
    name: &'static str,
    level: Level,
    len: usize,
    latin: bool,
}

/// The longest region mention (name plus optional suffix) at the start of the tokens. Names that
/// are also common words (中山, 光明) need their suffix unless `unambiguous` says the context
/// already makes them places (alone in a bracket, right before 分公司).
fn region_at_start(tokens: &[Token], unambiguous: bool) -> Option<RegionMatch> {
    if let Token::Word(w) = tokens.first()? {
        let (_, name) = LATIN_REGIONS.iter().find(|(latin, _)| latin == w)?;
        // A pinyin spelling shared by two places (Taizhou) is stripped but compared with nothing.
        let level = regions().find(name).map_or(Level::Zone, |r| r.level);
        return Some(RegionMatch { name, level, len: 1, latin: true });
    }
    let head = leading_han(tokens);
    regions()
        .starting(&head)
        .filter_map(|region| {
            let rest = head.strip_prefix(region.name)?;
            let suffix =
                region.suffixes.iter().filter(|s| rest.starts_with(**s)).map(|s| s.chars().count()).max();
            if region.needs_suffix && suffix.is_none() && !unambiguous {
                return None;
            }
            let len = region.name.chars().count() + suffix.unwrap_or(0);
            Some(RegionMatch { name: region.name, level: region.level, len, latin: false })
        })
        .max_by_key(|m| m.len)
}

/// A place the region list does not know, recognised by its suffix: two or three characters and
/// 市/区/县 at the start of a name that goes on for at least four more (`越西县晟嘉包装`).
/// Returns how many tokens it takes, suffix included.
fn unlisted_place_at_start(tokens: &[Token]) -> Option<usize> {
    const MIN_REST: usize = 4;
    /// Words ending in 市/区/县 that are not places (华联超市…, 阳光社区…).
    const NOT_PLACES: &[&str] =
        &["超市", "城市", "都市", "门市", "社区", "小区", "街区", "景区", "校区", "专区"];
    let head = leading_han(tokens);
    (2..=3).find_map(|n| {
        let place: String = head.chars().take(n + 1).collect();
        let suffixed = place.chars().count() == n + 1 && place.ends_with(['市', '区', '县']);
        let not_place = NOT_PLACES.iter().any(|w| place.ends_with(w));
        (suffixed && !not_place && weight(&tokens[n + 1..]) >= MIN_REST).then_some(n + 1)
    })
}

/// The longest region mention that ends exactly at `end`, and where it starts.
fn region_ending_at(tokens: &[Token], end: usize) -> Option<(usize, RegionMatch)> {
    const LONGEST_MENTION: usize = 16;
    (end.saturating_sub(LONGEST_MENTION)..end).find_map(|start| {
        let found = region_at_start(&tokens[start..end], true)?;
        (found.len == end - start).then_some((start, found))
    })
}

/// The region a bracket names, if the bracket holds nothing but regions (`（苏州）`, `(China)`).
fn region_only(tokens: &[Token]) -> Option<&'static str> {
    let mut rest = tokens;
    let mut most_specific: Option<RegionMatch> = None;
    while let Some(found) = region_at_start(rest, true) {
        rest = &rest[found.len..];
        if most_specific.as_ref().is_none_or(|r| found.level >= r.level) {
            most_specific = Some(found);
        }
    }
    if rest.is_empty() { most_specific.map(|r| r.name) } else { None }
}

/// False only when both regions are known and neither contains the other (苏州 vs 宁波,
/// 昆山 vs 吴江). Zones and "China" are compatible with anything.
fn regions_compatible(x: &str, y: &str) -> bool {
    regions().compatible(x, y)
}

/// Industry words: a one-character change that turns one of these into another (电子 → 电气)
/// is a different business, not a typo.
#[rustfmt::skip]
const INDUSTRY_WORDS: &[&str] = &[
    "机械", "机电", "电机", "模具", "电子", "电器", "电气", "五金", "塑胶", "塑料", "塑业", "橡胶",
    "精密", "自动化", "包装", "化工", "纺织", "科技", "技术", "材料", "设备", "装备", "制造",
    "贸易", "实业", "工贸", "金属", "钢铁", "钢材", "汽配", "印刷", "光电", "环保", "能源", "照明",
    "家具", "服装", "服饰", "食品", "器械", "仪器", "仪表", "阀门", "泵业", "轴承", "液压", "气动",
    "工具", "刀具", "铸造", "锻造", "紧固件", "标准件", "弹簧", "线缆", "电缆", "电线", "电源",
    "传动", "工程", "建材", "玻璃", "陶瓷", "涂料", "油墨", "纸业", "纸品", "物流", "信息", "软件",
    "网络", "通信", "通讯", "终端", "半导体", "智能", "机器人", "激光", "数控", "电池", "光伏",
    "管业", "铝业", "铜业", "钣金", "冲压", "注塑", "压铸", "电镀", "喷涂", "焊接", "彩印", "胶带",
    "薄膜", "皮革", "鞋业", "玩具", "家居", "卫浴", "灯饰", "销售", "投资", "进出口", "控股",
    "针织", "织造", "印染", "制衣", "化纤", "家纺", "丝绸", "零部件", "配件", "不锈钢", "橡塑",
    "制品", "纸箱", "食品机械", "医药", "生物", "制药", "农机", "船舶", "航空", "电力", "水泵",
    "风机", "电梯", "起重", "矿山", "冶金", "有色", "石化", "塑胶五金", "灯具", "音响", "钟表",
    "眼镜", "文具", "工艺", "礼品", "日化", "化妆品",
];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn norm(raw: &str) -> NormalizedName {
        normalize_company_name(raw)
    }

    fn sim(a: &str, b: &str) -> f64 {
        name_similarity(&norm(a), &norm(b))
    }

    #[test]
    fn region_legal_form_and_punctuation_are_removed_from_the_core() {
        let name = norm("苏州市精工机械有限公司");
        assert_eq!(name.core, "精工机械");
        assert_eq!(name.region.as_deref(), Some("苏州"));
        assert_eq!(name.legal_form.as_deref(), Some("有限公司"));
        assert!(!name.is_branch);
        for variant in [
            "精工机械有限公司",
            "精工机械",
            "江苏省苏州市精工机械有限公司",
            "苏州精工机械股份有限公司",
            "苏州 精工机械 有限公司",
            "苏州精工机械厂",
            "「苏州」精工·机械，有限公司。",
            "苏州工业园区精工机械有限公司",
            "苏州精工机械（集团）有限公司",
            "苏州精工机械集团有限公司",
            "精工机械 Co., Ltd.",
            "精工机械Co.,Ltd",
            "ＳＵＺＨＯＵ精工机械",
        ] {
            assert_eq!(norm(variant).core, "精工机械", "{variant}");
        }
    }

    #[test]
    fn text_in_brackets_is_kept_unless_it_is_only_a_region() {
        let name = norm("精工机械（苏州）有限公司");
        assert_eq!(name.core, "精工机械");
        assert_eq!(name.region.as_deref(), Some("苏州"));
        assert_eq!(norm("精工(精密)机械有限公司").core, "精工精密机械");
        assert_eq!(norm("博世汽车部件（苏州）有限公司").core, "博世汽车部件");
        assert_eq!(norm("ABB（中国）有限公司").core, "abb");
        assert_eq!(norm("【精工】机械").core, "精工机械");
        let wrapped = norm("「力尚电子（上海）有限公司」");
        assert_eq!((wrapped.core.as_str(), wrapped.region.as_deref()), ("力尚电子", Some("上海")));
    }

    #[test]
    fn english_names_lose_legal_words_and_pinyin_regions() {
        let name = norm("Suzhou Jinggong Machinery Co., Ltd.");
        assert_eq!(name.core, "jinggong machinery");
        assert_eq!(name.region.as_deref(), Some("苏州"));
        assert_eq!(name.legal_form.as_deref(), Some("co ltd"));
        for variant in [
            "JINGGONG MACHINERY CO.,LTD",
            "Jinggong Machinery (Suzhou) Co., Ltd",
            "Jinggong Machinery Company Limited",
            "Jinggong  Machinery Inc.",
        ] {
            assert_eq!(norm(variant).core, "jinggong machinery", "{variant}");
        }
        // Industry words are not legal forms.
        assert_eq!(norm("Jinggong Technology Co., Ltd.").core, "jinggong technology");
    }

    #[test]
    fn only_the_factory_character_is_removed_from_compound_factory_suffixes() {
        assert_eq!(norm("腾龙化工厂").core, "腾龙化工");
        assert_eq!(norm("精工机械制造厂").core, norm("精工机械制造有限公司").core);
    }

    #[test]
    fn industry_words_stay_in_the_core() {
        assert_eq!(norm("苏州精工模具有限公司").core, "精工模具");
        assert_eq!(norm("华为技术有限公司").core, "华为技术");
        assert_eq!(norm("宁波精工科技有限公司").core, "精工科技");
    }

    #[test]
    fn a_branch_keeps_its_designation_and_is_marked() {
        let branch = norm("精工机械有限公司苏州分公司");
        assert!(branch.is_branch);
        assert_eq!(branch.core, "精工机械苏州分公司");
        assert_eq!(branch.head_office_core(), "精工机械");
        assert_eq!(branch.legal_form.as_deref(), Some("有限公司"));
        assert_eq!(norm("精工机械苏州市分公司").core, "精工机械苏州分公司");
        let latin = norm("Jinggong Machinery Co., Ltd. Suzhou Branch");
        assert!(latin.is_branch);
        assert_eq!(latin.head_office_core(), "jinggong machinery");
        assert!(!norm("精工机械有限公司").is_branch);
        // A place the list lacks stays in the head office part, without the legal form.
        assert_eq!(norm("精工机械有限公司越西分公司").core, norm("精工机械越西分公司").core);
    }

    #[test]
    fn places_missing_from_the_list_are_recognised_by_their_suffix() {
        // 越西县 (凉山) is not in the region table.
        let name = norm("越西县晟嘉包装有限公司");
        assert_eq!(name.core, "晟嘉包装");
        assert_eq!(name.region.as_deref(), Some("越西"));
        assert_eq!(norm("华联超市连锁经营有限公司").core, "华联超市连锁经营");
        assert_eq!(norm("越西县包装").core, "越西县包装", "too little left to be a name");
    }

    #[test]
    fn a_name_that_only_adds_a_short_head_likely_adds_an_unlisted_place() {
        assert!(sim("越西弘众精密模具有限公司", "弘众精密模具有限公司") >= 0.8);
        assert!(sim("弘众精密模具有限公司", "弘众精密模具销售有限公司") < 0.8, "an added tail is a word");
    }

    #[test]
    fn ambiguous_place_names_are_only_stripped_with_their_suffix() {
        assert_eq!(norm("中山精密五金厂").core, "中山精密五金");
        assert_eq!(norm("中山市精密五金厂").core, "精密五金");
        assert_eq!(norm("光明电子有限公司").core, "光明电子");
        assert_eq!(norm("精密五金（中山）有限公司").core, "精密五金", "a bracket makes it a place");
        assert_eq!(norm("精密五金有限公司中山分公司").core, "精密五金中山分公司");
    }

    #[test]
    fn a_name_that_is_only_a_region_or_legal_form_keeps_it() {
        assert_eq!(norm("上海").core, "上海");
        assert_eq!(norm("有限公司").core, "有限公司");
        assert_eq!(norm("").core, "");
    }

    #[test]
    fn identical_cores_score_one() {
        assert_eq!(sim("苏州精工机械有限公司", "精工机械厂"), 1.0);
        assert_eq!(sim("Suzhou Jinggong Machinery Co., Ltd.", "JINGGONG MACHINERY"), 1.0);
    }

    #[test]
    fn a_one_character_typo_still_reaches_the_same_threshold() {
        assert!(sim("苏州精工机械有限公司", "精功机械有限公司") >= 0.8);
        assert!(sim("苏州鑫达塑胶制品有限公司", "鑫大塑胶制品") >= 0.8);
        assert!(sim("Jinggong Machinery", "Jingong Machinery") >= 0.8);
        assert!(sim("Jinggong Machinery", "Jinggong Machniery") >= 0.8);
    }

    #[test]
    fn hard_negatives_stay_below_the_same_threshold() {
        for (a, b) in [
            ("苏州精工机械", "苏州精工模具"),
            ("华为技术有限公司", "华为终端有限公司"),
            ("苏州精工机械有限公司", "宁波精工机械有限公司"),
            ("精工精密机械有限公司", "精工精密模具有限公司"),
            ("精工电子有限公司", "精工电气有限公司"),
            ("精工机械有限公司", "精工机械销售有限公司"),
            ("昆山精工机械", "吴江精工机械"),
            ("Jinggong Machinery", "Jinggong Mould"),
        ] {
            let s = sim(a, b);
            assert!(s < 0.8, "{a} vs {b}: {s}");
        }
    }

    #[test]
    fn a_region_and_the_region_containing_it_do_not_conflict() {
        assert_eq!(sim("江苏精工机械", "苏州精工机械"), 1.0);
        assert_eq!(sim("昆山精工机械", "苏州精工机械"), 1.0);
        assert_eq!(sim("Kunshan Jinggong", "江苏精工"), 0.0, "different scripts share nothing");
    }

    #[test]
    fn a_branch_and_its_head_office_are_possible_not_same() {
        let s = sim("精工机械有限公司苏州分公司", "精工机械有限公司");
        assert!((0.6..0.8).contains(&s), "{s}");
        let s = sim("精工机械有限公司苏州分公司", "精工机械有限公司无锡分公司");
        assert!((0.6..0.8).contains(&s), "{s}");
        assert_eq!(sim("精工机械有限公司苏州分公司", "精工机械苏州分公司"), 1.0);
    }

    #[test]
    fn unrelated_names_score_low() {
        assert!(sim("苏州精工机械有限公司", "宁波华丰电子有限公司") < 0.5);
        assert!(sim("精工机械", "华丰机械") < 0.7);
        assert_eq!(sim("", "精工机械"), 0.0);
    }

    #[test]
    fn similarity_is_symmetric_on_examples() {
        let names = ["精工机械", "精功机械", "精工模具", "华丰机械制造", "abc tech", "精工机械苏州分公司"];
        for a in names {
            for b in names {
                assert_eq!(sim(a, b), sim(b, a), "{a} / {b}");
            }
        }
    }

    #[test]
    fn jaro_winkler_matches_the_textbook_examples() {
        let jw =
            |a: &str, b: &str| jaro_winkler(&a.chars().collect::<Vec<_>>(), &b.chars().collect::<Vec<_>>());
        assert!((jw("martha", "marhta") - 0.9611).abs() < 1e-3);
        assert!((jw("dixon", "dicksonx") - 0.8133).abs() < 1e-3);
    }

    /// Fragments that real names are made of, plus noise, so generated names exercise every rule.
    fn name_fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "苏州",
                "苏州市",
                "江苏省",
                "昆山",
                "吴江区",
                "工业园区",
                "宁波",
                "中山",
                "中山市",
                "上海",
                "中国",
                "精工",
                "华丰",
                "鑫达",
                "机械",
                "模具",
                "电子",
                "电气",
                "厂",
                "有限公司",
                "股份有限公司",
                "集团",
                "分公司",
                "办事处",
                "分",
                "公司",
                "（",
                "）",
                "(",
                ")",
                "【",
                "】",
                "·",
                "，",
                " ",
                "　",
                "Co., Ltd.",
                "Suzhou",
                "Branch",
                "Jinggong",
                "Machinery",
                "ｌｔｄ",
                "ＡＢＣ",
                "1",
                "１",
            ])
            .prop_map(str::to_owned),
            "\\PC{0,3}",
        ]
    }

    proptest! {
        // Failures are reported with their minimal input; nothing is written next to the sources.
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn normalising_a_core_again_gives_the_same_core(
            parts in prop::collection::vec(name_fragment(), 0..8)
        ) {
            let first = norm(&parts.concat());
            let again = norm(&first.core);
            prop_assert_eq!(&again.core, &first.core);
            prop_assert_eq!(again.head_office_core(), first.head_office_core());
            prop_assert_eq!(again.is_branch, first.is_branch);
        }

        #[test]
        fn similarity_is_bounded_and_symmetric(
            a in prop::collection::vec(name_fragment(), 0..6),
            b in prop::collection::vec(name_fragment(), 0..6),
        ) {
            let (a, b) = (norm(&a.concat()), norm(&b.concat()));
            let s = name_similarity(&a, &b);
            prop_assert!((0.0..=1.0).contains(&s));
            prop_assert_eq!(s, name_similarity(&b, &a));
            if !a.core.is_empty() {
                prop_assert_eq!(name_similarity(&a, &a), 1.0);
            }
        }
    }
}
