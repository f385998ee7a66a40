#!/usr/bin/env python3
"""Generate core/tests/data/dedup_pairs.jsonl, the labelled customer pairs for the dedup evaluation.

Each line: {"a": {"name", "phone"}, "b": {"name", "phone"}, "label": "same"|"different", "kind"}.

"same" pairs are one company as two reps would type it: the same phone number written in another
notation, and a name with region or legal form dropped or changed, other punctuation or width,
English legal forms, a one-character typo. "different" pairs are the cases that fool naive
matching: same brand in another industry or city, group subsidiaries, branches, neighbours sharing
a park switchboard, brands one character apart.

The pools below (cities, districts, brands, industries) were written from what Chinese small
manufacturers are called, not from the matcher's own lists: some districts here are unknown to
it, on purpose.

Deterministic (fixed seed); Python 3.11 standard library only.
Usage: python3 scripts/gen_dedup_dataset.py [--seed N] [--holdout] [output path]

--holdout writes core/tests/data/dedup_pairs_holdout.jsonl instead: the same kinds of pair drawn
from a second vocabulary (other cities, 字号 characters, industry and subsidiary words, English
legal forms) with another seed. The rule was tuned on the main set only; the held-out set is
there to tell whether that tuning generalises.
"""

import argparse
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

SEED = 20260611
HOLDOUT_SEED = 20261126
DATA_DIR = Path(__file__).resolve().parent.parent / "core" / "tests" / "data"
DEFAULT_OUT = DATA_DIR / "dedup_pairs.jsonl"
DEFAULT_HOLDOUT_OUT = DATA_DIR / "dedup_pairs_holdout.jsonl"

# (city, province, area code, pinyin, [(district as written in names, suffix used), ...])
CITIES = [
    ("苏州", "江苏", "0512", "Suzhou", [("昆山", "市"), ("吴江", "区"), ("常熟", "市"), ("张家港", "市"),
                                     ("太仓", "市"), ("吴中", "区"), ("相城", "区")]),
    ("无锡", "江苏", "0510", "Wuxi", [("江阴", "市"), ("宜兴", "市"), ("惠山", "区"), ("锡山", "区")]),
    ("常州", "江苏", "0519", "Changzhou", [("武进", "区"), ("金坛", "区"), ("溧阳", "市"), ("新北", "区")]),
    ("南京", "江苏", "025", "Nanjing", [("江宁", "区"), ("浦口", "区"), ("六合", "区")]),
    ("南通", "江苏", "0513", "Nantong", [("海门", "市"), ("启东", "市"), ("如皋", "市")]),
    ("扬州", "江苏", "0514", "Yangzhou", [("江都", "区"), ("仪征", "市")]),
    ("泰州", "江苏", "0523", "Taizhou", [("靖江", "市"), ("泰兴", "市")]),
    ("宁波", "浙江", "0574", "Ningbo", [("慈溪", "市"), ("余姚", "市"), ("鄞州", "区"), ("北仑", "区"), ("宁海", "县")]),
    ("杭州", "浙江", "0571", "Hangzhou", [("萧山", "区"), ("余杭", "区"), ("富阳", "区")]),
    ("温州", "浙江", "0577", "Wenzhou", [("乐清", "市"), ("瑞安", "市"), ("龙湾", "区")]),
    ("台州", "浙江", "0576", "Taizhou", [("温岭", "市"), ("玉环", "市"), ("黄岩", "区"), ("路桥", "区")]),
    ("金华", "浙江", "0579", "Jinhua", [("义乌", "市"), ("永康", "市"), ("东阳", "市"), ("武义", "县")]),
    ("嘉兴", "浙江", "0573", "Jiaxing", [("海宁", "市"), ("桐乡", "市"), ("平湖", "市"), ("嘉善", "县")]),
    ("绍兴", "浙江", "0575", "Shaoxing", [("诸暨", "市"), ("上虞", "区"), ("柯桥", "区")]),
    ("东莞", "广东", "0769", "Dongguan", [("长安", "镇"), ("虎门", "镇"), ("厚街", "镇"), ("塘厦", "镇"), ("常平", "镇")]),
    ("佛山", "广东", "0757", "Foshan", [("顺德", "区"), ("南海", "区"), ("禅城", "区"), ("高明", "区")]),
    ("深圳", "广东", "0755", "Shenzhen", [("宝安", "区"), ("龙岗", "区"), ("龙华", "区"), ("光明", "区")]),
    ("广州", "广东", "020", "Guangzhou", [("番禺", "区"), ("花都", "区"), ("白云", "区"), ("增城", "区")]),
    ("中山", "广东", "0760", "Zhongshan", [("小榄", "镇"), ("古镇", "镇")]),
    ("上海", "上海", "021", "Shanghai", [("松江", "区"), ("嘉定", "区"), ("青浦", "区"), ("闵行", "区"),
                                      ("奉贤", "区"), ("宝山", "区"), ("金山", "区")]),
    ("北京", "北京", "010", "Beijing", [("大兴", "区"), ("顺义", "区"), ("昌平", "区")]),
    ("天津", "天津", "022", "Tianjin", [("武清", "区"), ("西青", "区")]),
    ("青岛", "山东", "0532", "Qingdao", [("黄岛", "区"), ("胶州", "市"), ("即墨", "区")]),
    ("潍坊", "山东", "0536", "Weifang", [("寿光", "市"), ("诸城", "市")]),
    ("泉州", "福建", "0595", "Quanzhou", [("晋江", "市"), ("石狮", "市"), ("南安", "市")]),
    ("厦门", "福建", "0592", "Xiamen", [("集美", "区"), ("同安", "区")]),
    ("合肥", "安徽", "0551", "Hefei", [("肥西", "县"), ("长丰", "县")]),
    ("郑州", "河南", "0371", "Zhengzhou", [("新郑", "市"), ("巩义", "市")]),
    ("武汉", "湖北", "027", "Wuhan", [("汉阳", "区"), ("东西湖", "区")]),
    ("成都", "四川", "028", "Chengdu", [("双流", "区"), ("郫都", "区")]),
    ("长沙", "湖南", "0731", "Changsha", [("望城", "区"), ("浏阳", "市")]),
    ("沧州", "河北", "0317", "Cangzhou", [("泊头", "市"), ("任丘", "市")]),
]

# 字号 characters with pinyin (for English names) and characters a pinyin IME confuses them with.
BRAND_CHARS = {
    "精": ("jing", "经晶京"), "工": ("gong", "功公宫"), "华": ("hua", "化花桦"), "丰": ("feng", "风峰锋"),
    "鑫": ("xin", "新欣馨"), "达": ("da", "大答"), "源": ("yuan", "元园缘"), "盛": ("sheng", "胜圣"),
    "泰": ("tai", "太态"), "恒": ("heng", "衡横"), "宏": ("hong", "洪鸿红"), "瑞": ("rui", "锐睿"),
    "通": ("tong", "同彤"), "利": ("li", "力立丽"), "诚": ("cheng", "成城程"), "信": ("xin", "新心"),
    "佳": ("jia", "家嘉"), "美": ("mei", "梅每"), "德": ("de", "得"), "旺": ("wang", "望王"),
    "昌": ("chang", "长常"), "隆": ("long", "龙珑"), "兴": ("xing", "星新"), "博": ("bo", "波搏"),
    "创": ("chuang", "闯"), "科": ("ke", "可柯"), "亿": ("yi", "义艺"), "金": ("jin", "今锦"),
    "宇": ("yu", "雨羽"), "天": ("tian", "添田"), "东": ("dong", "冬栋"), "方": ("fang", "芳放"),
    "永": ("yong", "勇咏"), "安": ("an", "按鞍"), "康": ("kang", "慷抗"), "汇": ("hui", "会惠"),
    "联": ("lian", "连莲"), "腾": ("teng", "滕藤"), "飞": ("fei", "菲非"), "凯": ("kai", "恺铠"),
    "捷": ("jie", "杰洁"), "威": ("wei", "维伟"), "顺": ("shun", "舜"), "祥": ("xiang", "翔详"),
    "荣": ("rong", "容蓉"), "嘉": ("jia", "佳家"), "明": ("ming", "名铭"), "森": ("sen", "深"),
    "远": ("yuan", "源元"), "锦": ("jin", "金今"), "铭": ("ming", "明名"), "致": ("zhi", "志智"),
    "卓": ("zhuo", "桌"), "越": ("yue", "悦跃"), "众": ("zhong", "中重"), "合": ("he", "和禾"),
    "润": ("run", "闰"), "泽": ("ze", "则择"), "晟": ("sheng", "盛胜"), "昊": ("hao", "浩皓"),
    "弘": ("hong", "宏洪"), "骏": ("jun", "俊峻"), "奥": ("ao", "澳"), "迪": ("di", "笛"),
    "辉": ("hui", "晖徽"), "晨": ("chen", "辰臣"), "航": ("hang", "杭"), "豪": ("hao", "浩毫"),
    "伟": ("wei", "威维"), "峰": ("feng", "丰锋"), "裕": ("yu", "玉宇"), "尚": ("shang", "上商"),
    "新": ("xin", "鑫欣"), "力": ("li", "利立"), "星": ("xing", "兴"), "海": ("hai", "亥"),
    "正": ("zheng", "政"), "坤": ("kun", "昆"), "瀚": ("han", "翰汉"), "欧": ("ou", "鸥"),
}
BRAND_POOL = sorted(BRAND_CHARS)

# (Chinese, English) industry words; they stay part of the company's identity.
INDUSTRIES = [
    ("机械", "Machinery"), ("模具", "Mould"), ("电子", "Electronics"), ("五金", "Hardware"),
    ("塑胶", "Plastic"), ("精密机械", "Precision Machinery"), ("自动化", "Automation"),
    ("包装", "Packaging"), ("化工", "Chemical"), ("纺织", "Textile"), ("电气", "Electric"),
    ("科技", "Technology"), ("新材料", "New Material"), ("机电", "Electromechanical"),
    ("塑胶制品", "Plastic Products"), ("五金制品", "Hardware Products"), ("电子科技", "Electronic Technology"),
    ("智能装备", "Intelligent Equipment"), ("汽车零部件", "Auto Parts"), ("轴承", "Bearing"), ("阀门", "Valve"),
    ("液压", "Hydraulic"), ("不锈钢", "Stainless Steel"), ("印刷包装", "Printing and Packaging"),
    ("电线电缆", "Wire and Cable"), ("光电", "Optoelectronics"), ("环保设备", "Environmental Equipment"),
    ("金属制品", "Metal Products"), ("橡塑", "Rubber and Plastic"), ("精细化工", "Fine Chemical"),
    ("针织", "Knitting"), ("照明", "Lighting"), ("机械制造", "Machinery Manufacturing"),
    ("精密模具", "Precision Mould"), ("电子材料", "Electronic Materials"), ("紧固件", "Fastener"),
]

# Words that name a group's subsidiaries (华为技术 / 华为终端).
SUBSIDIARY_WORDS = ["技术", "终端", "软件", "数字技术", "电子", "智能科技", "新材料", "进出口", "销售",
                    "投资", "物流", "精密", "汽车部件", "医疗器械", "环境科技", "供应链管理", "电气"]

# Registered legal forms and how often they occur.
LEGAL_FORMS = [("有限公司", 70), ("股份有限公司", 10), ("有限责任公司", 5), ("厂", 10), ("集团有限公司", 5)]

# Characters a typing slip turns an industry word's character into (not other industry words).
INDUSTRY_TYPOS = {"械": "戒谢", "具": "俱巨", "金": "斤今", "胶": "交蕉", "装": "妆庄", "织": "只枝",
                  "阀": "伐", "缆": "揽览", "承": "成"}

ENGLISH_LEGAL = ["Co., Ltd.", "Co.,Ltd", "CO., LTD.", "Co. Ltd", "Company Limited", "Ltd."]

# A 字号 may not be the name of a place at county level or above (企业名称登记管理规定), so
# generated brands must not contain one: the pool's places plus other cities and counties.
PLACE_NAMES = ({c[0] for c in CITIES} | {c[1] for c in CITIES} | {d for c in CITIES for d, _ in c[4]}
               | {"泰安", "安康", "安顺", "西安", "吉安", "安庆", "黄山", "新乡", "东营", "永安", "兴安", "海安",
                  "天水", "丰城", "瑞金", "宁德", "德阳", "长兴", "安吉", "德清", "天台", "新昌", "嘉善", "海盐",
                  "永嘉", "泰顺", "通化", "辉县", "新泰", "荣成", "兴化", "宜昌", "成安", "安新"})

FULL_WIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}
FULL_WIDTH[" "] = "\u3000"


@dataclass
class Vocabulary:
    """The pools a dataset is drawn from."""
    cities: list
    brand_chars: dict
    industries: list
    subsidiary_words: list
    legal_forms: list
    industry_typos: dict
    english_legal: list
    place_names: set
    brand_pool: list = field(init=False)

    def __post_init__(self):
        self.brand_pool = sorted(self.brand_chars)


MAIN = Vocabulary(CITIES, BRAND_CHARS, INDUSTRIES, SUBSIDIARY_WORDS, LEGAL_FORMS, INDUSTRY_TYPOS, ENGLISH_LEGAL,
                  PLACE_NAMES)

# ---- held-out vocabulary ---------------------------------------------------------------------
# For the held-out set (--holdout): cities, 字号 characters, industry and subsidiary words and
# English legal forms that appear nowhere in the pools above, so the rule, tuned on the main set,
# meets them for the first time. The kinds of pair (and of hard negative) are the same.

HOLDOUT_CITIES = [
    ("重庆", "重庆", "023", "Chongqing", [("江北", "区"), ("渝北", "区"), ("璧山", "区"), ("永川", "区")]),
    ("西安", "陕西", "029", "Xian", [("高陵", "区"), ("鄠邑", "区"), ("临潼", "区")]),
    ("沈阳", "辽宁", "024", "Shenyang", [("浑南", "区"), ("于洪", "区"), ("铁西", "区")]),
    ("大连", "辽宁", "0411", "Dalian", [("金州", "区"), ("瓦房店", "市"), ("庄河", "市")]),
    ("哈尔滨", "黑龙江", "0451", "Harbin", [("平房", "区"), ("阿城", "区")]),
    ("长春", "吉林", "0431", "Changchun", [("绿园", "区"), ("九台", "区")]),
    ("济南", "山东", "0531", "Jinan", [("章丘", "区"), ("历城", "区")]),
    ("烟台", "山东", "0535", "Yantai", [("龙口", "市"), ("莱州", "市"), ("福山", "区")]),
    ("临沂", "山东", "0539", "Linyi", [("兰山", "区"), ("沂水", "县")]),
    ("石家庄", "河北", "0311", "Shijiazhuang", [("藁城", "区"), ("鹿泉", "区")]),
    ("保定", "河北", "0312", "Baoding", [("高碑店", "市"), ("涿州", "市")]),
    ("太原", "山西", "0351", "Taiyuan", [("小店", "区"), ("清徐", "县")]),
    ("昆明", "云南", "0871", "Kunming", [("呈贡", "区"), ("安宁", "市")]),
    ("贵阳", "贵州", "0851", "Guiyang", [("花溪", "区"), ("修文", "县")]),
    ("南宁", "广西", "0771", "Nanning", [("武鸣", "区"), ("邕宁", "区")]),
    ("柳州", "广西", "0772", "Liuzhou", [("柳江", "区"), ("柳南", "区")]),
    ("南昌", "江西", "0791", "Nanchang", [("新建", "区"), ("青山湖", "区")]),
    ("赣州", "江西", "0797", "Ganzhou", [("南康", "区"), ("章贡", "区")]),
    ("洛阳", "河南", "0379", "Luoyang", [("偃师", "区"), ("孟津", "区")]),
    ("芜湖", "安徽", "0553", "Wuhu", [("鸠江", "区"), ("繁昌", "区")]),
    ("株洲", "湖南", "0731", "Zhuzhou", [("醴陵", "市"), ("渌口", "区")]),
    ("襄阳", "湖北", "0710", "Xiangyang", [("襄州", "区"), ("枣阳", "市")]),
    ("绵阳", "四川", "0816", "Mianyang", [("涪城", "区"), ("江油", "市")]),
    ("兰州", "甘肃", "0931", "Lanzhou", [("七里河", "区"), ("西固", "区")]),
    ("珠海", "广东", "0756", "Zhuhai", [("斗门", "区"), ("金湾", "区")]),
    ("江门", "广东", "0750", "Jiangmen", [("新会", "区"), ("鹤山", "市")]),
    ("漳州", "福建", "0596", "Zhangzhou", [("龙海", "区"), ("长泰", "区")]),
    ("湖州", "浙江", "0572", "Huzhou", [("长兴", "县"), ("德清", "县"), ("安吉", "县")]),
    ("盐城", "江苏", "0515", "Yancheng", [("大丰", "区"), ("东台", "市")]),
    ("徐州", "江苏", "0516", "Xuzhou", [("邳州", "市"), ("铜山", "区")]),
]

HOLDOUT_BRAND_CHARS = {
    "岳": ("yue", "月悦"), "鼎": ("ding", "顶定"), "璟": ("jing", "景境"), "麒": ("qi", "奇琦"), "冠": ("guan", "关观"),
    "拓": ("tuo", "托妥"), "迈": ("mai", "麦卖"), "朗": ("lang", "浪郎"), "峻": ("jun", "俊竣"), "逸": ("yi", "毅易"),
    "炜": ("wei", "玮苇"), "皓": ("hao", "浩好"), "煜": ("yu", "昱预"), "钧": ("jun", "均君"), "铄": ("shuo", "硕朔"),
    "韬": ("tao", "涛滔"), "熠": ("yi", "翼亦"), "翔": ("xiang", "详享"), "耀": ("yao", "瑶要"), "蓝": ("lan", "兰澜"),
    "灏": ("hao", "号昊"), "策": ("ce", "册测"), "驰": ("chi", "池持"), "彬": ("bin", "斌滨"), "楷": ("kai", "铠慨"),
    "煊": ("xuan", "轩宣"), "宸": ("chen", "辰沉"), "霖": ("lin", "林临"), "沃": ("wo", "握卧"), "涵": ("han", "含寒"),
    "澄": ("cheng", "承呈"), "舜": ("shun", "瞬"), "坚": ("jian", "建剑"), "固": ("gu", "顾故"), "吉": ("ji", "记季"),
    "福": ("fu", "富甫"), "晶": ("jing", "井静"), "亮": ("liang", "量谅"), "光": ("guang", "广逛"), "图": ("tu", "途徒"),
    "开": ("kai", "楷恺"), "泓": ("hong", "红虹"), "澜": ("lan", "兰岚"), "昕": ("xin", "芯忻"), "崇": ("chong", "虫冲"),
    "纬": ("wei", "卫苇"), "聚": ("ju", "巨据"), "贝": ("bei", "倍备"), "赫": ("he", "鹤贺"), "誉": ("yu", "预域"),
    "千": ("qian", "仟迁"), "友": ("you", "有佑"), "群": ("qun", "裙"), "蒙": ("meng", "盟萌"), "雅": ("ya", "亚压"),
    "桐": ("tong", "铜童"), "茂": ("mao", "贸帽"), "柏": ("bai", "百佰"), "松": ("song", "颂宋"), "竹": ("zhu", "筑珠"),
    "梓": ("zi", "紫子"), "琨": ("kun", "锟"), "璞": ("pu", "普朴"), "钰": ("yu", "玉域"), "铂": ("bo", "博柏"),
}

HOLDOUT_INDUSTRIES = [
    ("铸造", "Casting"), ("锻造", "Forging"), ("钣金", "Sheet Metal"), ("注塑", "Injection Moulding"),
    ("冲压", "Stamping"), ("密封件", "Seals"), ("弹簧", "Spring"), ("齿轮", "Gear"), ("泵业", "Pump"),
    ("风机", "Fan"), ("涂料", "Coatings"), ("胶粘剂", "Adhesive"), ("线束", "Wire Harness"), ("传感器", "Sensor"),
    ("工业气体", "Industrial Gas"), ("刀具", "Cutting Tools"), ("磨料磨具", "Abrasives"), ("仪器仪表", "Instruments"),
    ("电机", "Motor"), ("变压器", "Transformer"), ("玻璃", "Glass"), ("陶瓷", "Ceramics"),
    ("复合材料", "Composite Materials"), ("管业", "Pipe"), ("标准件", "Standard Parts"), ("链条", "Chain"),
    ("滤清器", "Filter"), ("减速机", "Gear Reducer"), ("机床", "Machine Tool"), ("焊接设备", "Welding Equipment"),
    ("净化设备", "Purification Equipment"), ("纸业", "Paper"), ("食品机械", "Food Machinery"),
    ("农业机械", "Agricultural Machinery"), ("起重设备", "Lifting Equipment"), ("热处理", "Heat Treatment"),
]

HOLDOUT_SUBSIDIARY_WORDS = ["研究院", "贸易", "控股", "实业", "新能源", "检测", "工程", "服务", "国际贸易", "装备",
                            "动力", "资产管理", "创新科技", "云计算", "电子商务", "售后服务", "工业"]

HOLDOUT_INDUSTRY_TYPOS = {"铸": "筑住", "锻": "段断", "簧": "黄皇", "轮": "论伦", "封": "丰峰", "涂": "途图",
                          "泵": "蹦", "压": "鸭押", "焊": "汉旱", "链": "连莲"}

HOLDOUT_ENGLISH_LEGAL = ["Co., Limited", "Corp.", "Co.,Ltd.", "LIMITED", "Company Ltd.", "CO.,LIMITED"]

HOLDOUT_PLACE_NAMES = ({c[0] for c in HOLDOUT_CITIES} | {c[1] for c in HOLDOUT_CITIES}
                       | {d for c in HOLDOUT_CITIES for d, _ in c[4]} | PLACE_NAMES
                       | {"吉林", "福州", "福清", "开封", "光山", "崇州", "崇明", "蒙自", "雅安", "桐城", "桐庐", "茂名",
                          "松原", "松江", "竹山", "晶城", "开平", "开原", "固安", "坚白", "吉首", "岳阳", "澄海", "澄迈",
                          "松滋", "柏乡", "千阳", "友谊", "冠县", "鼎城", "宸州", "亮山"})

HOLDOUT = Vocabulary(HOLDOUT_CITIES, HOLDOUT_BRAND_CHARS, HOLDOUT_INDUSTRIES, HOLDOUT_SUBSIDIARY_WORDS, LEGAL_FORMS,
                     HOLDOUT_INDUSTRY_TYPOS, HOLDOUT_ENGLISH_LEGAL, HOLDOUT_PLACE_NAMES)


@dataclass
class Company:
    city: tuple
    district: tuple | None  # (name, suffix) when the name carries the district
    brand: str
    industry: tuple
    legal: str
    region_style: str  # "city", "city_shi", "district", "bracket", "province", "none"
    mobile: str
    local: str  # 7–8 digit local number of the landline
    english: bool = False
    extension: str | None = None
    branch: str | None = None  # branch city
    subsidiary: str | None = None
    service: str | None = None
    extra: dict = field(default_factory=dict)


class Gen:
    def __init__(self, seed: int, vocabulary: "Vocabulary"):
        self.v = vocabulary
        self.rng = random.Random(seed)
        self.used_mobiles: set[str] = set()
        self.used_brands: set[str] = set()

    # ---- building blocks -------------------------------------------------------------------

    def mobile(self) -> str:
        while True:
            number = self.rng.choice(["13", "15", "18", "17", "19", "16", "14"]) + "".join(
                self.rng.choice("0123456789") for _ in range(9))
            if number[1] in "3456789" and number not in self.used_mobiles:
                self.used_mobiles.add(number)
                return number

    def local_number(self, area: str) -> str:
        length = 8 if len(area) == 3 or self.rng.random() < 0.85 else 7
        return self.rng.choice("5678") + "".join(self.rng.choice("0123456789") for _ in range(length - 1))

    def brand(self, length: int | None = None) -> str:
        while True:
            n = length or self.rng.choices([2, 3, 4], [70, 22, 8])[0]
            brand = "".join(self.rng.sample(self.v.brand_pool, n))
            if brand not in self.used_brands and not any(place in brand for place in self.v.place_names):
                self.used_brands.add(brand)
                return brand

    def company(self, **overrides) -> Company:
        city = overrides.pop("city", None) or self.rng.choice(self.v.cities)
        style = overrides.pop("region_style", None) or self.rng.choices(
            ["city", "city_shi", "district", "bracket", "province", "none"], [45, 12, 18, 8, 5, 12])[0]
        district = self.rng.choice(city[4]) if style == "district" else None
        legal = self.rng.choices([l for l, _ in self.v.legal_forms], [w for _, w in self.v.legal_forms])[0]
        c = Company(city=city, district=district, brand=self.brand(), industry=self.rng.choice(self.v.industries),
                    legal=legal, region_style=style, mobile=self.mobile(), local=self.local_number(city[2]))
        for key, value in overrides.items():
            setattr(c, key, value)
        return c

    def region_prefix(self, c: Company, style: str | None = None) -> str:
        style = style or c.region_style
        city, province = c.city[0], c.city[1]
        if style == "city":
            return city
        if style == "city_shi":
            return city + "市"
        if style == "district":
            name, suffix = c.district or self.rng.choice(c.city[4])
            return name + (suffix if self.rng.random() < 0.4 else "")
        if style == "province":
            return province + ("省" if province not in ("上海", "北京", "天津") else "市")
        return ""

    def chinese_name(self, c: Company, *, region: str | None = None, legal: str | None = None,
                     brand: str | None = None, industry: str | None = None) -> str:
        """The registered Chinese name, optionally with one part replaced."""
        style = c.region_style if region is None else region
        brand = brand or c.brand
        industry = industry if industry is not None else (c.subsidiary or c.industry[0])
        legal = c.legal if legal is None else legal
        if style == "bracket":
            body = f"{brand}{industry}（{c.city[0]}）{legal}"
        else:
            body = f"{self.region_prefix(c, style)}{brand}{industry}{legal}"
        if c.branch:
            body += f"{c.branch}分公司"
        return body

    def english_name(self, c: Company, *, with_region: bool = True) -> str:
        brand = "".join(self.v.brand_chars[ch][0] for ch in c.brand).capitalize()
        region = c.city[3]
        legal = self.rng.choice(self.v.english_legal)
        industry = c.industry[1]
        form = self.rng.randrange(3) if with_region else 3
        if form == 0:
            return f"{region} {brand} {industry} {legal}"
        if form == 1:
            return f"{brand} {industry} ({region}) {legal}"
        if form == 2:
            return f"{region} {brand} {industry} {legal}".upper()
        return f"{brand} {industry} {legal}"

    # ---- phone notations -------------------------------------------------------------------

    def write_mobile(self, number: str) -> str:
        a, b, c = number[:3], number[3:7], number[7:]
        forms = [number, f"{a}-{b}-{c}", f"{a} {b} {c}", f"+86 {a} {b} {c}", f"+86{number}",
                 f"+86-{number}", f"0086 {number}", f"86 {number}", f"(+86) {a}-{b}-{c}",
                 f"手机：{number}", "FW"]
        form = self.rng.choice(forms)
        return self.full_width(number) if form == "FW" else form

    def write_landline(self, area: str, local: str, extension: str | None) -> str:
        split = len(local) // 2
        spaced = f"{local[:split]} {local[split:]}"
        bare = area[1:]
        forms = [f"{area}-{local}", f"({area}){local}", f"（{area}）{spaced}", f"{area} {spaced}",
                 f"+86 {bare} {spaced}", f"+86-{bare}-{local}", f"86-{bare}-{local}", f"{area}{local}",
                 f"电话：{area}-{local}", f"+86 (0){bare} {local}", "FW"]
        form = self.rng.choice(forms)
        text = self.full_width(f"{area}-{local}") if form == "FW" else form
        if extension:
            marker = self.rng.choice(["转", " 转 ", "-", " ext.", " ext ", " 分机", "x", "#"])
            text += marker + extension
        return text

    def write_service(self, number: str) -> str:
        forms = [f"{number[:3]}-{number[3:6]}-{number[6:]}", number, f"{number[:3]} {number[3:6]} {number[6:]}",
                 f"+86 {number[:3]} {number[3:6]} {number[6:]}", f"{number[:3]}-{number[3:]}"]
        return self.rng.choice(forms)

    def full_width(self, text: str) -> str:
        return "".join(FULL_WIDTH.get(ch, ch) for ch in text)

    def phone_pair(self, c: Company, *, kinds=(65, 30, 5)) -> tuple[str, str]:
        """The same number of company `c`, written independently by two reps."""
        kind = self.rng.choices(["mobile", "landline", "service"], kinds)[0]
        if kind == "mobile":
            return self.write_mobile(c.mobile), self.write_mobile(c.mobile)
        if kind == "service":
            number = c.service or self.service_number()
            return self.write_service(number), self.write_service(number)
        area = c.city[2]
        ext = c.extension
        # A rep who knew the extension wrote it; the other may have only the switchboard.
        ext_b = ext if self.rng.random() < 0.6 else None
        return self.write_landline(area, c.local, ext), self.write_landline(area, c.local, ext_b)

    def own_phone(self, c: Company) -> str:
        if self.rng.random() < 0.65:
            return self.write_mobile(c.mobile)
        return self.write_landline(c.city[2], c.local, None)

    def service_number(self) -> str:
        return self.rng.choice(["400", "800"]) + "".join(self.rng.choice("0123456789") for _ in range(7))

    # ---- name variations a rep makes ---------------------------------------------------------

    def drop_region(self, c: Company) -> str:
        return self.chinese_name(c, region="none")

    def drop_legal(self, c: Company) -> str:
        return self.chinese_name(c, legal="")

    def other_legal(self, c: Company) -> str:
        options = [l for l in ("有限公司", "公司", "厂", "股份有限公司", "有限责任公司") if l != c.legal]
        return self.chinese_name(c, legal=self.rng.choice(options))

    def other_region_form(self, c: Company) -> str:
        """The same place, named differently: 苏州/苏州市, district/its city, province added, bracket."""
        name = self.brand_industry(c)
        city, province = c.city[0], c.city[1]
        options = [f"{city}市{name}{c.legal}", f"{city}{name}{c.legal}", f"{name}（{city}）{c.legal}"]
        if province != city:
            options += [f"{province}{city}{name}{c.legal}", f"{province}省{city}市{name}{c.legal}"]
        if c.district:
            options.append(f"{city}市{c.district[0]}{c.district[1]}{name}{c.legal}")
        return self.rng.choice(options)

    def other_industries(self, c: Company) -> list[tuple]:
        """Industries that name another business: 机械 vs 模具 or 机电, not 机械 vs 机械制造."""
        mine = c.industry[0]
        return [i for i in self.v.industries if mine not in i[0] and i[0] not in mine]

    def brand_industry(self, c: Company) -> str:
        return c.brand + (c.subsidiary or c.industry[0])

    def punctuation(self, name: str) -> str:
        """Width, brackets, spaces and separators as an IME or a business card produces them."""
        choice = self.rng.randrange(6)
        if choice == 0:
            return name.replace("（", "(").replace("）", ")") if "（" in name else " " + name + " "
        if choice == 1:
            return self.full_width(name) if any(ch.isascii() for ch in name) else f"【{name}】"
        if choice == 2:
            for legal in ("有限公司", "股份有限公司", "厂"):
                if name.endswith(legal):
                    return name[: -len(legal)] + " " + legal
            return name + "。"
        if choice == 3:
            return f"「{name}」"
        if choice == 4:
            return name.replace("有限", "·有限") if "有限" in name else name + "，"
        return name + "\u3000"

    def typo(self, c: Company) -> str:
        """One character mistyped: a homophone from the IME, or a dropped character."""
        brand, industry = c.brand, c.subsidiary or c.industry[0]
        roll = self.rng.random()
        typo_chars = [i for i, ch in enumerate(industry) if ch in self.v.industry_typos]
        if roll < 0.15 and typo_chars:
            i = self.rng.choice(typo_chars)
            industry = industry[:i] + self.rng.choice(self.v.industry_typos[industry[i]]) + industry[i + 1:]
        elif roll < 0.25 and len(brand) >= 3:
            i = self.rng.randrange(len(brand))
            brand = brand[:i] + brand[i + 1:]
        else:
            i = self.rng.randrange(len(brand))
            brand = brand[:i] + self.rng.choice(self.v.brand_chars[brand[i]][1]) + brand[i + 1:]
        return self.chinese_name(c, brand=brand, industry=industry)

    def english_legal(self, c: Company) -> str:
        prefix = self.region_prefix(c) if c.region_style not in ("bracket", "none") else ""
        return f"{prefix}{self.brand_industry(c)}{self.rng.choice(['', ' '])}{self.rng.choice(self.v.english_legal)}"

    def variant(self, c: Company) -> str:
        """A random rep-made variation of the registered name."""
        return self.rng.choice([self.drop_region, self.drop_legal, self.other_legal, self.other_region_form])(c)

    # ---- pair kinds ------------------------------------------------------------------------

    def pairs(self):
        rng = self.rng
        out = []

        def add(kind, label, name_a, phone_a, name_b, phone_b):
            if rng.random() < 0.5:
                name_a, phone_a, name_b, phone_b = name_b, phone_b, name_a, phone_a
            out.append({"a": {"name": name_a, "phone": phone_a}, "b": {"name": name_b, "phone": phone_b},
                        "label": label, "kind": kind})

        def with_ext(c: Company) -> Company:
            if rng.random() < 0.3:
                c.extension = str(rng.randint(100, 8999))
            return c

        # --- same company, typed twice ---
        for _ in range(120):
            c = with_ext(self.company())
            name = self.chinese_name(c)
            pa, pb = self.phone_pair(c)
            add("same_phone_notation", "same", name, pa, name, pb)
        for _ in range(120):
            c = with_ext(self.company(region_style=rng.choice(["city", "city_shi", "district", "bracket", "province"])))
            pa, pb = self.phone_pair(c)
            add("same_drop_region", "same", self.chinese_name(c), pa, self.drop_region(c), pb)
        for _ in range(120):
            c = with_ext(self.company())
            pa, pb = self.phone_pair(c)
            add("same_drop_legal_form", "same", self.chinese_name(c), pa, self.drop_legal(c), pb)
        for _ in range(80):
            c = with_ext(self.company())
            pa, pb = self.phone_pair(c)
            add("same_other_legal_form", "same", self.chinese_name(c), pa, self.other_legal(c), pb)
        for _ in range(100):
            c = with_ext(self.company(region_style=rng.choice(["city", "city_shi", "district", "bracket"])))
            pa, pb = self.phone_pair(c)
            add("same_region_written_differently", "same", self.chinese_name(c), pa, self.other_region_form(c), pb)
        for _ in range(100):
            c = with_ext(self.company())
            pa, pb = self.phone_pair(c)
            add("same_punctuation_and_width", "same", self.chinese_name(c), pa, self.punctuation(self.chinese_name(c)), pb)
        for _ in range(60):
            c = with_ext(self.company())
            pa, pb = self.phone_pair(c)
            add("same_english_legal_form", "same", self.chinese_name(c), pa, self.english_legal(c), pb)
        for _ in range(60):
            c = with_ext(self.company())
            pa, pb = self.phone_pair(c)
            add("same_english_name", "same", self.english_name(c), pa,
                self.english_name(c, with_region=rng.random() < 0.5), pb)
        for _ in range(150):
            c = with_ext(self.company())
            pa, pb = self.phone_pair(c)
            other = self.typo(c)
            if rng.random() < 0.4:
                other = self.punctuation(other)
            add("same_typo_one_character", "same", self.chinese_name(c), pa, other, pb)
        for _ in range(80):
            c = self.company(extension=str(rng.randint(10, 8999)))
            ext_b = c.extension if rng.random() < 0.5 else None
            pa = self.write_landline(c.city[2], c.local, c.extension)
            pb = self.write_landline(c.city[2], c.local, ext_b)
            add("same_landline_with_extension", "same", self.chinese_name(c), pa, self.variant(c), pb)
        for _ in range(40):
            c = self.company(branch=rng.choice(self.v.cities)[0], region_style="none")
            pa, pb = self.phone_pair(c)
            short = f"{self.brand_industry(c)}{c.branch}{rng.choice(['分公司', '市分公司'])}"
            add("same_branch_written_differently", "same", self.chinese_name(c), pa, short, pb)
        for _ in range(150):
            c = with_ext(self.company())
            pa, pb = self.phone_pair(c)
            other = self.variant(c)
            if rng.random() < 0.5:
                other = self.punctuation(other)
            else:
                for legal in ("股份有限公司", "有限责任公司", "集团有限公司", "有限公司"):
                    if other.endswith(legal):
                        other = other[: -len(legal)] + " " + rng.choice(self.v.english_legal)
                        break
            first = self.punctuation(self.chinese_name(c)) if rng.random() < 0.3 else self.chinese_name(c)
            add("same_several_changes", "same", first, pa, other, pb)
        for _ in range(30):
            c = self.company()
            pa, pb = self.phone_pair(c, kinds=(100, 0, 0))
            add("same_chinese_vs_english_name", "same", self.chinese_name(c), pa, self.english_name(c), pb)

        # --- different companies that look alike ---
        for _ in range(150):
            c = self.company()
            other_industry = rng.choice(self.other_industries(c))
            d = self.company(brand=c.brand, city=c.city, region_style=c.region_style, district=c.district,
                             industry=other_industry)
            add("diff_same_brand_other_industry", "different", self.chinese_name(c), self.own_phone(c),
                rng.choice([self.chinese_name(d), self.variant(d)]), self.own_phone(d))
        for _ in range(80):
            c = self.company()
            other_industry = rng.choice(self.other_industries(c))
            d = self.company(brand=c.brand, city=c.city, region_style=c.region_style, district=c.district,
                             industry=other_industry, mobile=c.mobile, local=c.local)
            if rng.random() < 0.6:
                phone_c, phone_d = self.write_mobile(c.mobile), self.write_mobile(c.mobile)
            else:
                phone_c = self.write_landline(c.city[2], c.local, None)
                phone_d = self.write_landline(c.city[2], c.local, None)
            add("diff_sister_company_sharing_owner_phone", "different", self.chinese_name(c), phone_c,
                self.chinese_name(d), phone_d)
        for _ in range(120):
            brand = self.brand(rng.choice([2, 2, 3]))
            w1, w2 = rng.sample(self.v.subsidiary_words, 2)
            form = rng.random()
            c = self.company(brand=brand, subsidiary=w1, legal="有限公司", region_style=rng.choice(["none", "city"]))
            d = self.company(brand=brand, subsidiary=w2, legal="有限公司", region_style=c.region_style, city=c.city)
            name_c = self.chinese_name(c)
            if form < 0.25:
                name_c = f"{brand}集团有限公司"
            shared = rng.random() < 0.5
            phone_c = self.write_landline(c.city[2], c.local, None)
            phone_d = (self.write_landline(c.city[2], c.local, str(rng.randint(100, 999))) if shared
                       else self.own_phone(d))
            add("diff_group_subsidiaries", "different", name_c, phone_c, self.chinese_name(d), phone_d)
        for _ in range(150):
            c = self.company(region_style=rng.choice(["city", "city_shi", "bracket"]))
            other_city = rng.choice([x for x in self.v.cities if x[0] != c.city[0] and x[1] != c.city[1]])
            d = self.company(brand=c.brand, industry=c.industry, legal=c.legal, city=other_city,
                             region_style=rng.choice(["city", "city_shi", "bracket"]))
            add("diff_same_name_other_city", "different", self.chinese_name(c), self.own_phone(c),
                self.chinese_name(d), self.own_phone(d))
        for _ in range(150):
            c = self.company()
            d = self.company(city=c.city, local=c.local)
            while set(d.brand) & set(c.brand):
                d.brand = self.brand()
            ext_c, ext_d = ((None, None) if rng.random() < 0.5
                            else (str(rng.randint(100, 999)), str(rng.randint(1000, 8999))))
            add("diff_park_switchboard", "different", self.chinese_name(c),
                self.write_landline(c.city[2], c.local, ext_c),
                rng.choice([self.chinese_name(d), self.variant(d)]), self.write_landline(c.city[2], c.local, ext_d))
        for _ in range(150):
            c = self.company()
            i = rng.randrange(len(c.brand))
            near_misses = [ch for ch in self.v.brand_pool if ch != c.brand[i] and ch not in self.v.brand_chars[c.brand[i]][1]
                           and c.brand[i] not in self.v.brand_chars[ch][1] and ch not in c.brand]
            brand = c.brand[:i] + rng.choice(near_misses) + c.brand[i + 1:]
            d = self.company(brand=brand, industry=c.industry, city=c.city, region_style=c.region_style,
                             district=c.district, legal=c.legal)
            add("diff_brand_one_character_apart", "different", self.chinese_name(c), self.own_phone(c),
                rng.choice([self.chinese_name(d), self.variant(d)]), self.own_phone(d))
        for _ in range(80):
            c = self.company(region_style=rng.choice(["none", "city"]), legal="有限公司",
                             service=self.service_number())
            branch_city = rng.choice([x for x in self.v.cities if x[0] != c.city[0]])
            d = self.company(brand=c.brand, industry=c.industry, city=branch_city, legal="有限公司",
                             region_style=c.region_style, branch=branch_city[0])
            d.city = c.city  # the branch's name carries the head office's region
            shared = rng.random() < 0.5
            phone_c = self.write_service(c.service) if shared else self.own_phone(c)
            phone_d = self.write_service(c.service) if shared else self.write_landline(branch_city[2], d.local, None)
            add("diff_branch_and_head_office", "different", self.chinese_name(c), phone_c,
                self.chinese_name(d), phone_d)
        for _ in range(40):
            c = self.company(region_style="none", legal="有限公司", service=self.service_number())
            b1, b2 = rng.sample([x[0] for x in self.v.cities], 2)
            c.branch = b1
            name_1 = self.chinese_name(c)
            c.branch = b2
            name_2 = self.chinese_name(c)
            add("diff_two_branches", "different", name_1, self.write_service(c.service), name_2,
                self.write_service(c.service))
        for _ in range(40):
            c = self.company()
            other_industry = rng.choice([i for i in self.v.industries if not set(i[1].split()) & set(c.industry[1].split())])
            d = self.company(brand=c.brand, city=c.city, industry=other_industry)
            add("diff_english_same_brand_other_industry", "different", self.english_name(c), self.own_phone(c),
                self.english_name(d), self.own_phone(d))
        for _ in range(200):
            c, d = self.company(), self.company()
            while set(d.brand) & set(c.brand):
                d.brand = self.brand()
            add("diff_unrelated", "different", rng.choice([self.chinese_name(c), self.variant(c)]), self.own_phone(c),
                rng.choice([self.chinese_name(d), self.variant(d)]), self.own_phone(d))
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, help="output path (default: the committed file)")
    parser.add_argument("--seed", type=int, help=f"random seed (default {SEED}, held-out {HOLDOUT_SEED})")
    parser.add_argument("--holdout", action="store_true",
                        help="draw from the held-out vocabulary (cities, brands, industries the rule never saw)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else (HOLDOUT_SEED if args.holdout else SEED)
    out_path = args.out or (DEFAULT_HOLDOUT_OUT if args.holdout else DEFAULT_OUT)
    pairs = Gen(seed, HOLDOUT if args.holdout else MAIN).pairs()
    random.Random(seed + 1).shuffle(pairs)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("w", encoding="utf-8") as f:
        for pair in pairs:
            f.write(json.dumps(pair, ensure_ascii=False) + "\n")
    counts: dict[str, int] = {}
    for pair in pairs:
        counts[pair["kind"]] = counts.get(pair["kind"], 0) + 1
    for kind, n in sorted(counts.items()):
        print(f"{n:5}  {kind}")
    print(f"{len(pairs):5}  total -> {out_path}")


if __name__ == "__main__":
    main()
