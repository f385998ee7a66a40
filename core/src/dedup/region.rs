//! The places company names are qualified with: China's provinces, every prefecture-level city,
//! the county-level cities and the districts, counties and towns where manufacturers are, each
//! with the place that contains it, so that 湖北省… and 襄阳… are seen as one place and 苏州… and
//! 宁波… as two.
//!
//! The table is written from the public administrative divisions (国家统计局 区划代码, 2023),
//! cut to what names use: all 333 prefecture-level divisions by their short names, and about
//! 700 county-level ones chosen for manufacturing. It is kept as text, one line per parent, and
//! read once into lookups by name and by first character.

use std::collections::HashMap;
use std::sync::OnceLock;

/// How specific a region is; the most specific one named is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Level {
    /// 工业园区, 开发区, or a place missing from the list: nothing to compare against.
    Zone,
    Country,
    Province,
    City,
    District,
    Town,
}

/// A place that names may start with, and the place that contains it.
#[derive(Debug)]
pub(super) struct Region {
    pub name: &'static str,
    pub parent: Option<&'static str>,
    pub level: Level,
    /// Administrative suffixes that may follow the name (省, 市, 区, …).
    pub suffixes: &'static [&'static str],
    /// The bare name is also a common word or brand (中山, 朝阳, 光明): only strip it with its
    /// suffix, or where the context makes it a place.
    pub needs_suffix: bool,
}

const PROVINCIAL: &[&str] = &["省"];
const MUNICIPAL: &[&str] = &["市"];
const CITY: &[&str] = &["市", "地区", "州"];
const COUNTY_LEVEL: &[&str] = &["新区", "区", "县", "市"];
const TOWN: &[&str] = &["镇"];

/// Provinces, municipalities, autonomous regions and SARs with the suffixes written after them.
#[rustfmt::skip]
const PROVINCES: &[(&str, &[&str])] = &[
    ("北京", MUNICIPAL), ("天津", MUNICIPAL), ("上海", MUNICIPAL), ("重庆", MUNICIPAL),
    ("河北", PROVINCIAL), ("山西", PROVINCIAL), ("辽宁", PROVINCIAL), ("吉林", PROVINCIAL),
    ("黑龙江", PROVINCIAL), ("江苏", PROVINCIAL), ("浙江", PROVINCIAL), ("安徽", PROVINCIAL),
    ("福建", PROVINCIAL), ("江西", PROVINCIAL), ("山东", PROVINCIAL), ("河南", PROVINCIAL),
    ("湖北", PROVINCIAL), ("湖南", PROVINCIAL), ("广东", PROVINCIAL), ("海南", PROVINCIAL),
    ("四川", PROVINCIAL), ("贵州", PROVINCIAL), ("云南", PROVINCIAL), ("陕西", PROVINCIAL),
    ("甘肃", PROVINCIAL), ("青海", PROVINCIAL), ("台湾", PROVINCIAL),
    ("内蒙古", &["自治区"]), ("广西", &["壮族自治区", "自治区"]), ("西藏", &["自治区"]),
    ("宁夏", &["回族自治区", "自治区"]), ("新疆", &["维吾尔自治区", "自治区"]),
    ("香港", &["特别行政区"]), ("澳门", &["特别行政区"]),
];

/// `Parent: child child …`. Under a province: its prefecture-level cities by short name. Under a
/// municipality or a city: districts, counties, county-level cities and towns, written with
/// their suffix (区/县/市/镇; the suffix says the level, any of 区/县/市 is accepted after the
/// name since names keep the older form after a county becomes a district). A leading `*` marks
/// a name that is also a common word or brand; one-character names always need their suffix.
/// No name appears twice: where two places share one (鼓楼, 普陀, 通州), the better known is kept.
const TABLE: &str = "
河北: 石家庄 唐山 秦皇岛 邯郸 邢台 保定 张家口 承德 沧州 廊坊 衡水
山西: 太原 *大同 阳泉 *长治 晋城 朔州 晋中 运城 忻州 临汾 吕梁
内蒙古: 呼和浩特 包头 乌海 赤峰 通辽 鄂尔多斯 呼伦贝尔 巴彦淖尔 乌兰察布
辽宁: 沈阳 大连 鞍山 抚顺 本溪 丹东 锦州 营口 阜新 辽阳 盘锦 铁岭 葫芦岛
吉林: 长春 四平 辽源 通化 *白山 松原 *白城 延边
黑龙江: 哈尔滨 齐齐哈尔 鸡西 鹤岗 双鸭山 *大庆 伊春 佳木斯 七台河 牡丹江 黑河 绥化
江苏: 南京 无锡 徐州 常州 苏州 南通 连云港 淮安 盐城 扬州 镇江 泰州 宿迁
浙江: 杭州 宁波 温州 嘉兴 湖州 绍兴 金华 衢州 舟山 台州 丽水
安徽: 合肥 芜湖 蚌埠 淮南 马鞍山 淮北 铜陵 安庆 *黄山 滁州 阜阳 宿州 六安 亳州 池州 宣城
福建: 福州 厦门 莆田 三明 泉州 漳州 南平 龙岩 宁德
江西: 南昌 景德镇 萍乡 九江 新余 鹰潭 赣州 *吉安 宜春 抚州 上饶
山东: 济南 青岛 淄博 枣庄 东营 烟台 潍坊 济宁 泰安 威海 日照 临沂 德州 聊城 滨州 菏泽
河南: 郑州 开封 洛阳 平顶山 安阳 鹤壁 新乡 焦作 濮阳 许昌 漯河 三门峡 南阳 商丘 信阳 周口 驻马店 济源
湖北: 武汉 黄石 十堰 宜昌 襄阳 鄂州 荆门 孝感 荆州 黄冈 咸宁 随州 恩施 仙桃 潜江 天门
湖南: 长沙 株洲 湘潭 衡阳 邵阳 岳阳 常德 张家界 益阳 郴州 永州 怀化 娄底 湘西
广东: 广州 韶关 深圳 珠海 汕头 佛山 江门 湛江 茂名 肇庆 惠州 梅州 汕尾 河源 阳江 清远 东莞 *中山 潮州 揭阳 云浮
广西: 南宁 柳州 桂林 梧州 *北海 防城港 钦州 贵港 *玉林 百色 贺州 河池 来宾 崇左
海南: 海口 *三亚 三沙 儋州
四川: 成都 自贡 攀枝花 泸州 德阳 绵阳 广元 遂宁 内江 乐山 南充 眉山 宜宾 广安 达州 雅安 巴中 资阳 凉山 阿坝 甘孜
贵州: 贵阳 六盘水 遵义 安顺 毕节 铜仁 黔东南 黔南 黔西南
云南: 昆明 曲靖 玉溪 保山 昭通 丽江 普洱 临沧 楚雄 红河 文山 西双版纳 大理 德宏
西藏: 拉萨 日喀则 昌都 林芝 山南 那曲 阿里
陕西: 西安 铜川 宝鸡 咸阳 渭南 *延安 汉中 榆林 *安康 商洛
甘肃: 兰州 嘉峪关 金昌 白银 天水 武威 张掖 平凉 酒泉 庆阳 定西 陇南 临夏 甘南
青海: 西宁 海东 海西
宁夏: 银川 石嘴山 吴忠 固原 中卫
新疆: 乌鲁木齐 克拉玛依 吐鲁番 哈密 昌吉 博尔塔拉 巴音郭楞 阿克苏 喀什 和田 伊犁 塔城 阿勒泰
北京: 海淀区 丰台区 大兴区 顺义区 昌平区 *朝阳区 通州区 房山区 怀柔区 平谷区 密云区 延庆区 门头沟区 石景山区
天津: *滨海新区 武清区 宝坻区 静海区 西青区 津南区 北辰区 东丽区 蓟州区 宁河区
上海: 浦东新区 闵行区 松江区 嘉定区 青浦区 奉贤区 宝山区 *金山区 徐汇区 普陀区 *长宁区 静安区 杨浦区 虹口区 崇明区
重庆: 渝北区 江北区 九龙坡区 沙坪坝区 巴南区 璧山区 永川区 江津区 合川区 涪陵区 万州区 綦江区 长寿区 大足区 荣昌区 铜梁区
石家庄: 辛集市 晋州市 新乐市 藁城区 鹿泉区 栾城区 正定县
唐山: 遵化市 迁安市 滦州市 丰润区 曹妃甸区
保定: 涿州市 定州市 安国市 高碑店市 白沟镇 清苑区 徐水区
沧州: 泊头市 任丘市 黄骅市 河间市 盐山县 献县
邢台: 南宫市 沙河市 清河县 宁晋县
邯郸: 武安市 永年区 肥乡区
廊坊: 霸州市 三河市 固安县 香河县 文安县
衡水: 冀州区 深州市 枣强县 安平县
太原: 古交市 小店区
辽阳: 灯塔市
大连: 瓦房店市 庄河市 金州区 旅顺口区 甘井子区
鞍山: 海城市 台安县
营口: 大石桥市 盖州市 鲅鱼圈区
丹东: 东港市 凤城市
沈阳: 新民市 浑南区 铁西区 于洪区
长春: 榆树市 德惠市 九台区 双阳区
哈尔滨: 阿城区 双城区 尚志市 五常市
南京: 江宁区 浦口区 六合区 溧水区 高淳区 栖霞区 雨花台区
苏州: 昆山市 吴江区 常熟市 张家港市 太仓市 吴中区 相城区 姑苏区 虎丘区
无锡: 江阴市 宜兴市 锡山区 惠山区 新吴区 滨湖区 梁溪区
常州: 武进区 溧阳市 金坛区 新北区 天宁区 钟楼区
南通: 海门区 启东市 如皋市 海安市 如东县 崇川区
扬州: 江都区 仪征市 高邮市 宝应县 邗江区
镇江: 丹阳市 句容市 扬中市 丹徒区
泰州: 靖江市 泰兴市 兴化市 姜堰区
徐州: 邳州市 新沂市 沛县 丰县 睢宁县 铜山区
盐城: 东台市 大丰区 建湖县 射阳县 阜宁县 盐都区
淮安: 涟水县 盱眙县 金湖县 淮阴区
连云港: 东海县 灌云县 赣榆区
宿迁: 沭阳县 泗阳县 泗洪县
杭州: 萧山区 余杭区 富阳区 临安区 建德市 桐庐县 淳安县 临平区 滨江区 拱墅区 钱塘区
宁波: 慈溪市 余姚市 鄞州区 北仑区 镇海区 奉化区 宁海县 象山县 海曙区
温州: 乐清市 瑞安市 龙湾区 鹿城区 瓯海区 永嘉县 平阳县 苍南县 龙港市
嘉兴: 海宁市 桐乡市 平湖市 嘉善县 海盐县 南湖区 秀洲区
湖州: 长兴县 德清县 安吉县 吴兴区 南浔区
绍兴: 诸暨市 上虞区 柯桥区 嵊州市 新昌县 越城区
金华: 义乌市 永康市 东阳市 兰溪市 武义县 浦江县 婺城区 金东区
衢州: *江山市 龙游县 常山县 开化县 柯城区
台州: 温岭市 玉环市 黄岩区 路桥区 椒江区 临海市 天台县 仙居县 三门县
丽水: *龙泉市 缙云县 青田县 遂昌县 莲都区
舟山: 定海区 岱山县
合肥: 肥西县 肥东县 长丰县 庐江县 巢湖市 蜀山区 包河区 瑶海区
芜湖: 无为市 南陵县 繁昌区 湾沚区 鸠江区 弋江区 镜湖区
滁州: *天长市 *明光市 来安县 全椒县 定远县 凤阳县 琅琊区 南谯区
安庆: 桐城市 潜山市 怀宁县 宿松县
宣城: *宁国市 *广德市 郎溪县 泾县 宣州区
马鞍山: 当涂县 含山县 博望区 雨山区
阜阳: 界首市 太和县 临泉县
六安: 霍山县 舒城县 金寨县
福州: 福清市 长乐区 闽侯县 连江县 仓山区 马尾区
厦门: 集美区 海沧区 同安区 翔安区 思明区 湖里区
泉州: 晋江市 石狮市 南安市 惠安县 安溪县 永春县 德化县 丰泽区 鲤城区 洛江区 泉港区
漳州: 龙海区 漳浦县 长泰区 芗城区 龙文区 云霄县 诏安县
莆田: 仙游县 涵江区 城厢区 荔城区 秀屿区
宁德: *福安市 福鼎市 霞浦县 蕉城区
三明: *永安市 沙县区
南平: 邵武市 武夷山市 建瓯市
南昌: 进贤县 南昌县 新建区 青山湖区
赣州: 南康区 瑞金市 章贡区 于都县 信丰县 龙南市
九江: 瑞昌市 共青城市 庐山市 湖口县 柴桑区 浔阳区
上饶: 玉山县 广丰区 鄱阳县 德兴市 信州区
宜春: 丰城市 樟树市 高安市 袁州区
鹰潭: 贵溪市 余江区
景德镇: 乐平市 浮梁县
济南: 章丘区 历城区 长清区 莱芜区 平阴县 商河县
青岛: 即墨区 胶州市 平度市 莱西市 黄岛区 城阳区 崂山区 李沧区
烟台: 龙口市 莱阳市 莱州市 招远市 海阳市 福山区 牟平区 芝罘区 蓬莱区
潍坊: 寿光市 诸城市 青州市 高密市 安丘市 昌邑市 临朐县 昌乐县 奎文区
淄博: 张店区 临淄区 博山区 周村区 淄川区 桓台县
威海: 荣成市 乳山市 文登区 环翠区
临沂: 兰山区 罗庄区 沂水县 郯城县 兰陵县 费县 临沭县 沂南县
济宁: 曲阜市 邹城市 兖州区 任城区 嘉祥县 梁山县
泰安: 新泰市 肥城市 宁阳县
德州: 乐陵市 禹城市 齐河县 陵城区
聊城: 临清市 东阿县 茌平区 冠县 高唐县
滨州: 邹平市 博兴县 惠民县 无棣县
菏泽: 曹县 单县 郓城县 巨野县 牡丹区
东营: 广饶县 垦利区
日照: 莒县 五莲县
枣庄: 滕州市 薛城区
郑州: 巩义市 新郑市 新密市 登封市 荥阳市 中牟县 金水区 二七区 管城回族区
洛阳: 偃师区 孟津区 伊川县 宜阳县 洛龙区
新乡: 长垣市 辉县市 卫辉市 获嘉县
许昌: 禹州市 长葛市 建安区 鄢陵县
南阳: 邓州市 镇平县 宛城区 卧龙区
安阳: 林州市 汤阴县
焦作: 沁阳市 孟州市 温县 博爱县
商丘: 永城市 柘城县
周口: 项城市
驻马店: 遂平县 确山县
武汉: 汉阳区 东西湖区 黄陂区 蔡甸区 江夏区 新洲区 汉南区 武昌区 洪山区 江汉区 硚口区 青山区
襄阳: 枣阳市 宜城市 老河口市 襄州区 樊城区 襄城区 南漳县 谷城县
宜昌: 宜都市 枝江市 当阳市 夷陵区 西陵区
荆州: 松滋市 石首市 洪湖市 监利市 沙市区 公安县
十堰: 丹江口市 张湾区 茅箭区 郧阳区
孝感: 汉川市 应城市 安陆市 云梦县 孝南区
黄冈: 麻城市 武穴市 黄州区 浠水县 蕲春县
荆门: 钟祥市 京山市 东宝区 掇刀区
黄石: 大冶市 阳新县
咸宁: 赤壁市 嘉鱼县 咸安区
随州: 广水市 曾都区
鄂州: 华容区 鄂城区
长沙: 浏阳市 宁乡市 长沙县 望城区 岳麓区 雨花区 开福区 芙蓉区 天心区
株洲: 醴陵市 攸县 茶陵县 天元区 芦淞区 荷塘区 石峰区 渌口区
湘潭: 湘乡市 韶山市 湘潭县 岳塘区 雨湖区
衡阳: 耒阳市 常宁市 衡阳县 衡南县 衡东县
岳阳: 汨罗市 临湘市 岳阳县 平江县 湘阴县 岳阳楼区
常德: 津市市 澧县 汉寿县 桃源县 武陵区 鼎城区
邵阳: 武冈市 邵东市 邵阳县
益阳: 沅江市 桃江县 安化县 赫山区
郴州: 资兴市 桂阳县 永兴县 北湖区 苏仙区
娄底: 冷水江市 涟源市 双峰县 娄星区
广州: 番禺区 花都区 增城区 *白云区 *天河区 *黄埔区 从化区 南沙区 海珠区 荔湾区 越秀区
深圳: 宝安区 龙岗区 *龙华区 *南山区 *光明区 坪山区 福田区 罗湖区 盐田区
佛山: 顺德区 *南海区 禅城区 三水区 高明区 乐从镇 北滘镇 大沥镇 狮山镇
东莞: 虎门镇 厚街镇 塘厦镇 常平镇 清溪镇 凤岗镇 *长安镇 大朗镇 寮步镇 樟木头镇 石碣镇 大岭山镇 黄江镇 长安镇
中山: 小榄镇 *古镇镇 坦洲镇 南头镇 横栏镇 东凤镇
江门: 鹤山市 台山市 *开平市 恩平市 新会区 蓬江区 江海区
肇庆: 四会市 高要区 端州区
惠州: 惠阳区 惠城区 博罗县 惠东县
汕头: 澄海区 潮阳区 潮南区 龙湖区 金平区
揭阳: 普宁市 揭东区 惠来县 榕城区
珠海: 香洲区 斗门区 金湾区
湛江: 廉江市 雷州市 吴川市
茂名: 高州市 化州市 信宜市
清远: 英德市 连州市
潮州: 潮安区 饶平县
梅州: 兴宁市
阳江: 阳春市
云浮: 罗定市
汕尾: 陆丰市 海丰县
南宁: 横州市 武鸣区 青秀区
柳州: 柳江区 鱼峰区 柳北区
桂林: 荔浦市 临桂区
玉林: 北流市 容县
海口: 龙华区 美兰区
海南: 琼海市 文昌市 万宁市 *东方市
成都: 都江堰市 彭州市 邛崃市 崇州市 简阳市 双流区 郫都区 温江区 新都区 龙泉驿区 青白江区 新津区 金堂县 武侯区 锦江区 青羊区 金牛区 成华区
德阳: 广汉市 什邡市 绵竹市 旌阳区 罗江区 中江县
绵阳: 江油市 三台县 涪城区 游仙区 安州区
宜宾: 南溪区 江安县 翠屏区 叙州区
泸州: 江阳区 龙马潭区 纳溪区 泸县 合江县
乐山: 峨眉山市 五通桥区 夹江县 犍为县
南充: 阆中市 顺庆区 高坪区 嘉陵区
眉山: 东坡区 彭山区 仁寿县
遂宁: 射洪市 船山区
内江: 隆昌市 威远县 资中县
达州: 万源市 通川区 达川区 大竹县
广安: 华蓥市 邻水县
贵阳: 清镇市 观山湖区 花溪区 白云区
遵义: 仁怀市 赤水市 汇川区 红花岗区
昆明: 安宁市 呈贡区 官渡区 五华区
曲靖: 宣威市 麒麟区
西安: 长安区 未央区 雁塔区 灞桥区 临潼区 鄠邑区 高陵区 阎良区
宝鸡: 渭滨区 金台区 陈仓区
咸阳: 兴平市 彬州市 秦都区
榆林: 神木市 府谷县
兰州: 城关区 七里河区 西固区 榆中县
银川: 灵武市 兴庆区 金凤区
乌鲁木齐: 米东区 新市区 沙依巴克区
";

/// Development zones: part of an address, not a place of their own.
#[rustfmt::skip]
const ZONES: &[&str] = &[
    "高新技术产业开发区", "经济技术开发区", "高新技术开发区", "经济开发区", "工业园区", "开发区",
    "高新区", "保税区", "工业园", "工业区", "自贸区", "新区",
];

/// The regions and their lookups, built from the table on first use.
pub(super) struct Regions {
    all: Vec<Region>,
    by_name: HashMap<&'static str, usize>,
    /// Indexes of the regions whose name starts with the character, longest name first.
    by_first_char: HashMap<char, Vec<usize>>,
}

impl Regions {
    fn build() -> Self {
        let mut all = vec![Region {
            name: "中国",
            parent: None,
            level: Level::Country,
            suffixes: &[],
            needs_suffix: false,
        }];
        for (name, suffixes) in PROVINCES {
            all.push(Region { name, parent: None, level: Level::Province, suffixes, needs_suffix: false });
        }
        let municipalities = ["北京", "天津", "上海", "重庆"];
        let is_province = |name: &str| PROVINCES.iter().any(|(p, _)| *p == name);
        for line in TABLE.lines() {
            let Some((parent, children)) = line.split_once(':') else { continue };
            let parent = parent.trim();
            let under_province = is_province(parent) && !municipalities.contains(&parent);
            for child in children.split_whitespace() {
                let (child, marked) = match child.strip_prefix('*') {
                    Some(rest) => (rest, true),
                    None => (child, false),
                };
                let (name, level, suffixes) = if under_province && !child.ends_with('市') {
                    (child, Level::City, CITY)
                } else if let Some(name) = child.strip_suffix('镇') {
                    (name, Level::Town, TOWN)
                } else {
                    let name = ["新区", "区", "县", "市"]
                        .iter()
                        .find_map(|s| child.strip_suffix(s).filter(|n| !n.is_empty()))
                        .unwrap_or(child);
                    (name, Level::District, COUNTY_LEVEL)
                };
                if all.iter().any(|r| r.name == name) {
                    // A name listed twice (a typo in the table) keeps its first place.
                    continue;
                }
                let needs_suffix = marked || name.chars().count() < 2;
                all.push(Region { name, parent: Some(parent), level, suffixes, needs_suffix });
            }
        }
        for name in ZONES {
            all.push(Region { name, parent: None, level: Level::Zone, suffixes: &[], needs_suffix: false });
        }
        let by_name = all.iter().enumerate().map(|(i, r)| (r.name, i)).collect();
        let mut by_first_char: HashMap<char, Vec<usize>> = HashMap::new();
        for (i, region) in all.iter().enumerate() {
            if let Some(first) = region.name.chars().next() {
                by_first_char.entry(first).or_default().push(i);
            }
        }
        for list in by_first_char.values_mut() {
            list.sort_by_key(|&i| std::cmp::Reverse(all[i].name.len()));
        }
        Regions { all, by_name, by_first_char }
    }

    /// The region called `name` (short form, without suffix).
    pub fn find(&self, name: &str) -> Option<&Region> {
        self.by_name.get(name).map(|&i| &self.all[i])
    }

    /// The regions whose name `text` starts with, longest first.
    pub fn starting(&self, text: &str) -> impl Iterator<Item = &Region> {
        let first = text.chars().next();
        first
            .and_then(|c| self.by_first_char.get(&c))
            .into_iter()
            .flatten()
            .map(|&i| &self.all[i])
            .filter(move |r| text.starts_with(r.name))
    }

    /// The region and the regions containing it, innermost first.
    fn enclosing<'r>(&'r self, region: &'r Region) -> impl Iterator<Item = &'r str> {
        std::iter::successors(Some(region), |r| r.parent.and_then(|p| self.find(p))).map(|r| r.name)
    }

    /// False only when both regions are known and neither contains the other (苏州 vs 宁波,
    /// 昆山 vs 吴江). Zones and "China" are compatible with anything.
    pub fn compatible(&self, x: &str, y: &str) -> bool {
        if x == y {
            return true;
        }
        let (Some(rx), Some(ry)) = (self.find(x), self.find(y)) else {
            return true;
        };
        if matches!(rx.level, Level::Zone | Level::Country)
            || matches!(ry.level, Level::Zone | Level::Country)
        {
            return true;
        }
        self.enclosing(rx).any(|r| r == y) || self.enclosing(ry).any(|r| r == x)
    }
}

/// The region table.
pub(super) fn regions() -> &'static Regions {
    static REGIONS: OnceLock<Regions> = OnceLock::new();
    REGIONS.get_or_init(Regions::build)
}

/// Pinyin spellings of regions used in English company names, mapped to the Chinese name.
/// Taizhou names two cities (泰州, 台州): it is stripped, and being unknown it conflicts with none.
#[rustfmt::skip]
pub(super) const LATIN_REGIONS: &[(&str, &str)] = &[
    ("china", "中国"), ("beijing", "北京"), ("tianjin", "天津"), ("shanghai", "上海"),
    ("chongqing", "重庆"), ("hebei", "河北"), ("shanxi", "山西"), ("liaoning", "辽宁"),
    ("jilin", "吉林"), ("heilongjiang", "黑龙江"), ("jiangsu", "江苏"), ("zhejiang", "浙江"),
    ("anhui", "安徽"), ("fujian", "福建"), ("jiangxi", "江西"), ("shandong", "山东"),
    ("henan", "河南"), ("hubei", "湖北"), ("hunan", "湖南"), ("guangdong", "广东"),
    ("hainan", "海南"), ("sichuan", "四川"), ("guizhou", "贵州"), ("yunnan", "云南"),
    ("shaanxi", "陕西"), ("gansu", "甘肃"), ("qinghai", "青海"), ("guangxi", "广西"),
    ("nanjing", "南京"), ("suzhou", "苏州"), ("wuxi", "无锡"), ("changzhou", "常州"),
    ("nantong", "南通"), ("yangzhou", "扬州"), ("zhenjiang", "镇江"), ("taizhou", "泰州/台州"),
    ("xuzhou", "徐州"), ("yancheng", "盐城"), ("lianyungang", "连云港"), ("suqian", "宿迁"),
    ("kunshan", "昆山"), ("wujiang", "吴江"), ("changshu", "常熟"), ("zhangjiagang", "张家港"),
    ("taicang", "太仓"), ("wuzhong", "吴中"), ("xiangcheng", "相城"), ("jiangyin", "江阴"),
    ("yixing", "宜兴"), ("wujin", "武进"), ("liyang", "溧阳"), ("jintan", "金坛"),
    ("haimen", "海门"), ("qidong", "启东"), ("rugao", "如皋"), ("danyang", "丹阳"),
    ("jingjiang", "靖江"), ("jiangning", "江宁"), ("hangzhou", "杭州"), ("ningbo", "宁波"),
    ("wenzhou", "温州"), ("jiaxing", "嘉兴"), ("huzhou", "湖州"), ("shaoxing", "绍兴"),
    ("jinhua", "金华"), ("lishui", "丽水"), ("quzhou", "衢州"), ("zhoushan", "舟山"),
    ("xiaoshan", "萧山"), ("yuhang", "余杭"), ("cixi", "慈溪"), ("yuyao", "余姚"),
    ("yinzhou", "鄞州"), ("beilun", "北仑"), ("zhenhai", "镇海"), ("yueqing", "乐清"),
    ("ruian", "瑞安"), ("yiwu", "义乌"), ("yongkang", "永康"), ("dongyang", "东阳"),
    ("wenling", "温岭"), ("yuhuan", "玉环"), ("huangyan", "黄岩"), ("haining", "海宁"),
    ("tongxiang", "桐乡"), ("pinghu", "平湖"), ("zhuji", "诸暨"), ("shangyu", "上虞"),
    ("keqiao", "柯桥"), ("guangzhou", "广州"), ("shenzhen", "深圳"), ("dongguan", "东莞"),
    ("foshan", "佛山"), ("zhongshan", "中山"), ("zhuhai", "珠海"), ("huizhou", "惠州"),
    ("jiangmen", "江门"), ("shantou", "汕头"), ("zhaoqing", "肇庆"), ("qingyuan", "清远"),
    ("jieyang", "揭阳"), ("chaozhou", "潮州"), ("baoan", "宝安"), ("longgang", "龙岗"),
    ("panyu", "番禺"), ("huadu", "花都"), ("zengcheng", "增城"), ("shunde", "顺德"),
    ("humen", "虎门"), ("jinan", "济南"), ("qingdao", "青岛"), ("yantai", "烟台"),
    ("weifang", "潍坊"), ("zibo", "淄博"), ("weihai", "威海"), ("linyi", "临沂"),
    ("jining", "济宁"), ("fuzhou", "福州"), ("xiamen", "厦门"), ("quanzhou", "泉州"),
    ("zhangzhou", "漳州"), ("putian", "莆田"), ("jinjiang", "晋江"), ("shishi", "石狮"),
    ("hefei", "合肥"), ("wuhu", "芜湖"), ("maanshan", "马鞍山"), ("shijiazhuang", "石家庄"),
    ("tangshan", "唐山"), ("baoding", "保定"), ("cangzhou", "沧州"), ("langfang", "廊坊"),
    ("zhengzhou", "郑州"), ("luoyang", "洛阳"), ("wuhan", "武汉"), ("xiangyang", "襄阳"),
    ("yichang", "宜昌"), ("changsha", "长沙"), ("zhuzhou", "株洲"), ("chengdu", "成都"),
    ("mianyang", "绵阳"), ("shenyang", "沈阳"), ("dalian", "大连"), ("nanchang", "南昌"),
    ("kunming", "昆明"), ("guiyang", "贵阳"), ("taiyuan", "太原"), ("harbin", "哈尔滨"),
    ("changchun", "长春"), ("nanning", "南宁"), ("pudong", "浦东"), ("minhang", "闵行"),
    ("songjiang", "松江"), ("jiading", "嘉定"), ("qingpu", "青浦"), ("fengxian", "奉贤"),
    ("baoshan", "宝山"), ("haidian", "海淀"), ("shunyi", "顺义"), ("changping", "昌平"),
    ("daxing", "大兴"), ("liuzhou", "柳州"), ("lanzhou", "兰州"), ("ganzhou", "赣州"),
    ("xian", "西安"), ("guilin", "桂林"), ("xiangtan", "湘潭"), ("yueyang", "岳阳"),
    ("deyang", "德阳"), ("yibin", "宜宾"), ("jiujiang", "九江"), ("anshan", "鞍山"),
    ("yingkou", "营口"), ("dandong", "丹东"), ("handan", "邯郸"), ("xingtai", "邢台"),
    ("hengshui", "衡水"), ("xinxiang", "新乡"), ("xuchang", "许昌"), ("nanyang", "南阳"),
    ("shiyan", "十堰"), ("jingzhou", "荆州"), ("xiaogan", "孝感"), ("hengyang", "衡阳"),
    ("changde", "常德"), ("zhanjiang", "湛江"), ("maoming", "茂名"), ("liaocheng", "聊城"),
    ("binzhou", "滨州"), ("dezhou", "德州"), ("heze", "菏泽"), ("zaozhuang", "枣庄"),
    ("dongying", "东营"), ("rizhao", "日照"), ("taian", "泰安"), ("ningde", "宁德"),
    ("longyan", "龙岩"), ("chuzhou", "滁州"), ("anqing", "安庆"), ("xuancheng", "宣城"),
    ("huaian", "淮安"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parent_in_the_table_is_a_region_and_names_are_not_repeated() {
        let regions = regions();
        for line in TABLE.lines() {
            let Some((parent, children)) = line.split_once(':') else { continue };
            assert!(regions.find(parent.trim()).is_some(), "parent {parent} is not a region");
            assert!(!children.trim().is_empty(), "{parent} lists no children");
        }
        assert!(regions.all.len() > 900, "{} regions", regions.all.len());
        for (latin, name) in LATIN_REGIONS {
            assert!(
                name.contains('/') || regions.find(name).is_some(),
                "{latin} → {name} is not in the table"
            );
        }
    }

    #[test]
    fn a_district_is_inside_its_city_and_province_and_nowhere_else() {
        let regions = regions();
        assert!(regions.compatible("枣阳", "襄阳"));
        assert!(regions.compatible("湖北", "枣阳"));
        assert!(regions.compatible("襄阳", "湖北"));
        assert!(!regions.compatible("枣阳", "宜昌"));
        assert!(!regions.compatible("湖北", "南通"));
        assert!(!regions.compatible("昆山", "吴江"));
        assert!(regions.compatible("中国", "苏州"));
        assert!(regions.compatible("未知", "苏州"), "a place the table lacks conflicts with none");
    }

    #[test]
    fn prefixes_are_found_longest_first() {
        let names: Vec<&str> = regions().starting("张家港市华丰").map(|r| r.name).collect();
        assert_eq!(names.first(), Some(&"张家港"));
        assert!(regions().starting("").next().is_none());
    }
}
