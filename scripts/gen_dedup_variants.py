#!/usr/bin/env python3
"""Generate core/tests/data/dedup_pairs_variants.jsonl: labelled customer pairs that stress how
Chinese company names are *written* differently, independent of scripts/gen_dedup_dataset.py.

Each line: {"a": {"name", "phone"}, "b": {"name", "phone"}, "label": "same"|"different", "kind"}.

Where gen_dedup_dataset.py varies region prefixes, legal forms, punctuation and typos, this one
follows the registered-name patterns of the 企业名称登记管理规定 and how reps shorten them:

- 行政区划 + 字号 + 行业 + 组织形式, with the place written as province, prefecture city,
  district or county-level city, with or without 省/市/区/县, or left out;
- 字号 + 行业 + (行政区划) + 组织形式 and 字号 + (行政区划) + 行业 + 组织形式: the place in brackets
  after the trade name, which reps move to the front or drop (天创新模具（中山）制造有限公司 →
  中山天创新模具);
- organisation and industry filler words (科技, 制造, 实业, 工贸, 贸易, 集团, 工业, 技术, 发展, 厂, …)
  added, dropped or moved, and every legal form (有限责任公司, 股份有限公司, 有限公司, 厂, none);
- phones in many notations, extensions included (转, 分机, ext., x, -, tel URIs).

Hard negatives: neighbours in one city and industry behind one park switchboard (no extension, or
other extensions), the same trade name in another city sharing a group's 400 number, one owner's
companies in two industries or as a manufacturer and its trading arm behind one mobile, a branch
and its head office, trade names one character apart in one city with their own numbers.

The region table and the vocabulary here were written for this file (public administrative
divisions, common 字号 characters); neither is read from the matcher.

Deterministic (fixed seed); Python 3 standard library only.
Usage: python3 scripts/gen_dedup_variants.py [--seed N] [output path]
"""

import argparse
import json
import random
import sys
from pathlib import Path

SEED = 20261203
OUT = Path(__file__).resolve().parent.parent / "core" / "tests" / "data" / "dedup_pairs_variants.jsonl"

# province → [(prefecture city, area code, [districts / county-level cities with their suffix])]
PLACES = {
    "湖北": [("武汉", "027", ["汉阳区", "东西湖区", "黄陂区", "蔡甸区"]), ("襄阳", "0710", ["枣阳市", "宜城市", "襄州区"]),
           ("宜昌", "0717", ["宜都市", "枝江市", "当阳市"]), ("荆州", "0716", ["松滋市", "石首市"]),
           ("十堰", "0719", ["丹江口市", "张湾区"]), ("孝感", "0712", ["汉川市", "应城市"])],
    "江苏": [("南通", "0513", ["海门区", "启东市", "如皋市", "海安市"]), ("盐城", "0515", ["东台市", "大丰区", "建湖县"]),
           ("徐州", "0516", ["邳州市", "新沂市", "沛县"]), ("扬州", "0514", ["江都区", "仪征市", "高邮市"]),
           ("镇江", "0511", ["丹阳市", "句容市", "扬中市"]), ("淮安", "0517", ["涟水县", "盱眙县"])],
    "浙江": [("湖州", "0572", ["长兴县", "德清县", "安吉县"]), ("台州", "0576", ["温岭市", "玉环市", "临海市"]),
           ("丽水", "0578", ["缙云县", "龙泉市"]), ("衢州", "0570", ["江山市", "龙游县"]),
           ("金华", "0579", ["永康市", "武义县", "兰溪市"])],
    "广东": [("中山", "0760", ["小榄镇", "古镇镇", "坦洲镇"]), ("江门", "0750", ["鹤山市", "台山市", "开平市", "新会区"]),
           ("肇庆", "0758", ["四会市", "高要区"]), ("惠州", "0752", ["惠阳区", "博罗县", "惠东县"]),
           ("汕头", "0754", ["澄海区", "潮阳区"]), ("揭阳", "0663", ["普宁市", "揭东区"])],
    "山东": [("潍坊", "0536", ["寿光市", "诸城市", "青州市", "高密市"]), ("临沂", "0539", ["兰山区", "沂水县", "郯城县"]),
           ("聊城", "0635", ["临清市", "东阿县"]), ("滨州", "0543", ["邹平市", "博兴县"]),
           ("德州", "0534", ["乐陵市", "禹城市"]), ("济宁", "0537", ["曲阜市", "邹城市"])],
    "河北": [("邢台", "0319", ["清河县", "南宫市"]), ("沧州", "0317", ["泊头市", "任丘市", "黄骅市"]),
           ("衡水", "0318", ["冀州区", "枣强县"]), ("保定", "0312", ["高碑店市", "涿州市", "安国市"])],
    "河南": [("新乡", "0373", ["长垣市", "辉县市"]), ("许昌", "0374", ["禹州市", "长葛市"]),
           ("南阳", "0377", ["邓州市", "镇平县"]), ("洛阳", "0379", ["偃师区", "孟津区"])],
    "安徽": [("芜湖", "0553", ["无为市", "南陵县"]), ("滁州", "0550", ["天长市", "明光市"]),
           ("安庆", "0556", ["桐城市", "潜山市"]), ("宣城", "0563", ["宁国市", "广德市"])],
    "福建": [("泉州", "0595", ["晋江市", "南安市", "惠安县", "安溪县"]), ("漳州", "0596", ["龙海区", "漳浦县"]),
           ("莆田", "0594", ["仙游县", "涵江区"]), ("宁德", "0593", ["福安市", "福鼎市"])],
    "江西": [("赣州", "0797", ["南康区", "瑞金市"]), ("九江", "0792", ["瑞昌市", "共青城市"]),
           ("上饶", "0793", ["玉山县", "广丰区"])],
    "湖南": [("株洲", "0731", ["醴陵市", "攸县"]), ("岳阳", "0730", ["汨罗市", "临湘市"]),
           ("衡阳", "0734", ["耒阳市", "常宁市"])],
    "四川": [("德阳", "0838", ["广汉市", "什邡市"]), ("绵阳", "0816", ["江油市", "三台县"]),
           ("宜宾", "0831", ["南溪区", "江安县"])],
    "辽宁": [("鞍山", "0412", ["海城市", "台安县"]), ("营口", "0417", ["大石桥市", "盖州市"]),
           ("丹东", "0415", ["东港市", "凤城市"])],
}

# Characters trade names (字号) are made of; a trade name is two to four of them.
TRADE_CHARS = ("盛隆永凯丰天创新锐恒达宏泰鑫源华茂嘉瑞德润豪骏铭晟昊煜辰宸钧铎璟瀚澜弘毅"
               "博远卓越腾飞金诚信佳合众联银宝富祥福裕光明亚星海川江山岳峰嵘")
# Industry words (行业): the business line, which tells one owner's companies apart.
INDUSTRIES = ["电机", "模具", "注塑", "五金", "阀门", "轴承", "线缆", "泵业", "纺织", "包装", "印刷", "铸造",
              "机床", "液压", "紧固件", "齿轮", "橡胶", "塑胶", "陶瓷", "玻璃", "涂料", "胶粘剂", "电子",
              "汽车配件", "精密机械", "环保设备", "食品机械", "不锈钢制品", "建材", "家具", "灯具"]
# Organisation and industry filler: says nothing about which company it is.
FILLERS = ["科技", "制造", "实业", "工贸", "贸易", "集团", "工业", "技术", "发展", "科技发展", "实业发展",
           "制品", "生产", "加工"]
LEGAL_FORMS = ["有限公司", "有限责任公司", "股份有限公司", "有限公司", "厂", ""]
# Words that name a separate business (a sales or export arm), for the one-owner negatives. None
# of them is in FILLERS: a word cannot be filler in one pair and a different company in another
# (an earlier version had 贸易 and 工贸 in both lists, labelling the same change both ways).
ARMS = ["销售", "进出口", "商贸"]


class Gen:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.used_trade = set()
        self.cities = [(prov, city, area, districts)
                       for prov, cities in PLACES.items() for (city, area, districts) in cities]

    def trade(self, length=None) -> str:
        while True:
            n = length or self.rng.choice([2, 3, 3, 3, 4])
            t = "".join(self.rng.sample(TRADE_CHARS, n))
            if t not in self.used_trade:
                self.used_trade.add(t)
                return t

    def company(self):
        prov, city, area, districts = self.rng.choice(self.cities)
        return {
            "province": prov, "city": city, "area": area, "district": self.rng.choice(districts),
            "trade": self.trade(), "industry": self.rng.choice(INDUSTRIES),
            "filler": self.rng.choice(FILLERS) if self.rng.random() < 0.6 else "",
            "legal": self.rng.choice(LEGAL_FORMS[:4]),
            "local": self.local_number(area),
            "mobile": self.mobile(),
        }

    def mobile(self) -> str:
        return self.rng.choice(["13", "15", "18", "17", "19"]) + "".join(self.rng.choices("0123456789", k=9))

    def local_number(self, area: str) -> str:
        n = 8 if len(area) == 3 or self.rng.random() < 0.8 else 7
        return self.rng.choice("2345678") + "".join(self.rng.choices("0123456789", k=n - 1))

    # ---- writing names ------------------------------------------------------------------

    def place(self, c, level: str) -> str:
        """The place as a name prefix, at a level, with or without its suffix."""
        r = self.rng.random()
        if level == "province":
            return c["province"] + ("省" if r < 0.7 else "")
        if level == "city":
            return c["city"] + ("市" if r < 0.4 else "")
        if level == "province_city":
            return c["province"] + "省" + c["city"] + "市"
        d = c["district"]
        return d if r < 0.6 else d[:-1] if len(d) > 2 else d

    def formal(self, c, level="city", filler=None, legal=None) -> str:
        filler = c["filler"] if filler is None else filler
        legal = c["legal"] if legal is None else legal
        return f"{self.place(c, level) if level else ''}{c['trade']}{c['industry']}{filler}{legal}"

    def bracketed(self, c, after_industry=True, filler=None) -> str:
        """字号 + 行业 + (行政区划) + filler + 组织形式, or the bracket right after the 字号."""
        filler = c["filler"] if filler is None else filler
        place = c["city"] if self.rng.random() < 0.8 else c["province"]
        b = self.rng.choice([("（", "）"), ("(", ")")])
        legal = c["legal"] or "有限公司"
        if after_industry:
            return f"{c['trade']}{c['industry']}{b[0]}{place}{b[1]}{filler}{legal}"
        return f"{c['trade']}{b[0]}{place}{b[1]}{c['industry']}{filler}{legal}"

    def short(self, c, level=None) -> str:
        """What a rep types: place (maybe) + 字号 + 行业, no filler, no legal form."""
        return f"{self.place(c, level) if level else ''}{c['trade']}{c['industry']}"

    def other_filler(self, c) -> str:
        """The same company with filler added or dropped (never swapped for another)."""
        if c["filler"]:
            return ""
        return self.rng.choice(FILLERS)

    # ---- writing phones -----------------------------------------------------------------

    def write_mobile(self, m: str) -> str:
        return self.rng.choice([m, f"{m[:3]}-{m[3:7]}-{m[7:]}", f"+86 {m[:3]} {m[3:7]} {m[7:]}",
                                f"86{m}", f"手机：{m}", f"{m[:3]} {m[3:7]} {m[7:]}"])

    def write_landline(self, area: str, local: str, ext: str | None = None) -> str:
        a = area[1:]
        base = self.rng.choice([f"{area}-{local}", f"({area}){local}", f"+86 {a} {local}",
                                f"{area} {local[:4]} {local[4:]}", f"+86-{a}-{local}"])
        if ext is None:
            return base
        return self.rng.choice([f"{base}转{ext}", f"{base}-{ext}", f"{base} ext. {ext}", f"{base} x {ext}",
                                f"{base}分机{ext}", f"tel:+86-{a}-{local};ext={ext}"])

    def phone_pair(self, c, mobile_share=0.55):
        if self.rng.random() < mobile_share:
            return self.write_mobile(c["mobile"]), self.write_mobile(c["mobile"])
        ext = str(self.rng.randint(10, 8999)) if self.rng.random() < 0.3 else None
        return (self.write_landline(c["area"], c["local"], ext),
                self.write_landline(c["area"], c["local"], ext if self.rng.random() < 0.6 else None))

    # ---- pairs --------------------------------------------------------------------------

    def pairs(self):
        rng, out = self.rng, []

        def add(kind, label, na, pa, nb, pb):
            if rng.random() < 0.5:
                na, pa, nb, pb = nb, pb, na, pa
            out.append({"a": {"name": na, "phone": pa}, "b": {"name": nb, "phone": pb},
                        "label": label, "kind": kind})

        # --- same company, written differently ---
        for _ in range(150):
            c = self.company()
            pa, pb = self.phone_pair(c)
            add("same_filler_added_or_dropped", "same", self.formal(c, rng.choice(["city", None])), pa,
                self.formal(c, rng.choice(["city", None]), filler=self.other_filler(c),
                            legal=rng.choice(LEGAL_FORMS)), pb)
        for _ in range(130):
            c = self.company()
            pa, pb = self.phone_pair(c)
            add("same_province_vs_city", "same", self.formal(c, "province"), pa,
                rng.choice([self.short(c, "city"), self.formal(c, "city", filler=self.other_filler(c))]), pb)
        for _ in range(130):
            c = self.company()
            pa, pb = self.phone_pair(c)
            add("same_city_vs_district", "same", self.formal(c, rng.choice(["city", "province_city"])), pa,
                rng.choice([self.short(c, "district"), self.formal(c, "district", legal=rng.choice(LEGAL_FORMS))]), pb)
        for _ in range(100):
            c = self.company()
            pa, pb = self.phone_pair(c)
            add("same_province_vs_district", "same", self.formal(c, "province"), pa, self.short(c, "district"), pb)
        for _ in range(130):
            c = self.company()
            pa, pb = self.phone_pair(c)
            add("same_region_in_brackets_after_trade_name", "same", self.bracketed(c, rng.random() < 0.6), pa,
                self.short(c, rng.choice(["city", "city", None])), pb)
        for _ in range(90):
            c = self.company()
            pa, pb = self.phone_pair(c)
            add("same_bracket_vs_district", "same", self.bracketed(c, True, filler=""), pa,
                self.formal(c, "district", filler=self.other_filler(c)), pb)
        for _ in range(100):
            c = self.company()
            pa, pb = self.phone_pair(c)
            add("same_registered_vs_short", "same", self.formal(c, "province_city"), pa,
                self.short(c, None) if rng.random() < 0.5 else c["trade"] + c["industry"] + rng.choice(["厂", "公司"]), pb)
        for _ in range(100):
            c = self.company()
            ext = str(rng.randint(10, 899))
            add("same_switchboard_same_extension", "same", self.formal(c, "city"),
                self.write_landline(c["area"], c["local"], ext),
                self.formal(c, rng.choice(["province", "district", None]), filler=self.other_filler(c)),
                self.write_landline(c["area"], c["local"], ext))

        # --- different companies ---
        for _ in range(180):
            c, d = self.company(), self.company()
            d.update(province=c["province"], city=c["city"], area=c["area"], district=c["district"],
                     industry=c["industry"], local=c["local"])
            e1, e2 = (None, None) if rng.random() < 0.5 else rng.sample(range(10, 899), 2)
            add("diff_same_city_same_industry_park_switchboard", "different",
                self.formal(c, rng.choice(["city", "district"])),
                self.write_landline(c["area"], c["local"], None if e1 is None else str(e1)),
                self.formal(d, rng.choice(["city", "district", None])),
                self.write_landline(c["area"], c["local"], None if e2 is None else str(e2)))
        for _ in range(120):
            c = self.company()
            ext_a, ext_b = rng.sample(range(10, 8999), 2)
            other = self.company()
            other.update(trade=c["trade"], industry=c["industry"], city=c["city"], province=c["province"],
                         district=c["district"], area=c["area"], local=c["local"])
            add("diff_same_switchboard_other_extension", "different", self.formal(c, "city"),
                self.write_landline(c["area"], c["local"], str(ext_a)),
                self.short(other, "city") + rng.choice(ARMS) + "有限公司",
                self.write_landline(c["area"], c["local"], str(ext_b)))
        for _ in range(150):
            c = self.company()
            prov2, city2, area2, _ = rng.choice([x for x in self.cities if x[0] != c["province"]])
            service = "400" + "".join(rng.choices("0123456789", k=7))
            d = dict(c, province=prov2, city=city2, area=area2)
            add("diff_same_trade_name_other_city_group_hotline", "different",
                self.formal(c, rng.choice(["city", "province"])), f"{service[:3]}-{service[3:6]}-{service[6:]}",
                self.formal(d, rng.choice(["city", "province"])), service)
        for _ in range(130):
            c = self.company()
            other_industry = rng.choice([i for i in INDUSTRIES if i not in c["industry"] and c["industry"] not in i])
            d = dict(c, industry=other_industry)
            add("diff_one_owner_two_industries", "different", self.formal(c, "city"), self.write_mobile(c["mobile"]),
                self.formal(d, rng.choice(["city", None])), self.write_mobile(c["mobile"]))
        for _ in range(110):
            c = self.company()
            arm = rng.choice(ARMS)
            add("diff_manufacturer_and_its_trading_arm", "different",
                self.formal(c, "city", filler=rng.choice(["制造", "科技", ""])), self.write_mobile(c["mobile"]),
                f"{self.place(c, 'city')}{c['trade']}{c['industry']}{arm}有限公司", self.write_mobile(c["mobile"]))
        for _ in range(90):
            c = self.company()
            prov2, city2, _, _ = rng.choice(self.cities)
            if city2 == c["city"]:
                continue
            add("diff_branch_and_head_office", "different", self.formal(c, "city", legal="有限公司"),
                self.write_landline(c["area"], c["local"]),
                f"{c['trade']}{c['industry']}{c['filler']}有限公司{city2}分公司",
                self.write_landline(c["area"], c["local"]))
        for _ in range(110):
            c = self.company()
            t = list(c["trade"])
            i = rng.randrange(len(t))
            t[i] = rng.choice([ch for ch in TRADE_CHARS if ch not in t])
            d = dict(c, trade="".join(t), local=self.local_number(c["area"]), mobile=self.mobile())
            pa, _ = self.phone_pair(c)
            pb, _ = self.phone_pair(d)
            add("diff_trade_name_one_character_apart_same_city", "different", self.formal(c, "city"), pa,
                self.formal(d, rng.choice(["city", "district"])), pb)
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("out", nargs="?", type=Path, default=OUT)
    args = parser.parse_args()
    pairs = Gen(args.seed).pairs()
    with args.out.open("w", encoding="utf-8") as f:
        for pair in pairs:
            f.write(json.dumps(pair, ensure_ascii=False) + "\n")
    counts = {}
    for pair in pairs:
        counts[pair["kind"]] = counts.get(pair["kind"], 0) + 1
    for kind, n in sorted(counts.items()):
        print(f"{n:5}  {kind}", file=sys.stderr)
    print(f"{len(pairs)} pairs → {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
