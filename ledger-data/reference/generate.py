#!/usr/bin/env python3
"""Generates deedlog's fictional reference data for Kunming (see README.md in this folder).

Python 3 standard library only; deterministic: the same seed always writes the same bytes.
Run from anywhere:  python3 ledger-data/reference/generate.py [--check]

With --check it regenerates in memory, compares with the files on disk and exits non-zero on any
difference (so a hand edit of a generated file cannot slip in), then runs the same checks.
Every run validates what it writes: counts, uniqueness, ID check characters, share sums,
referential integrity, formats. All people, companies, communities and roads are made up; the
banks are real institutions (public reference data), their branches generic.
"""

import json
import random
import re
import sys
from datetime import date, timedelta
from pathlib import Path

SEED = 20211130  # the day the Kunming platform went live
OUT = Path(__file__).resolve().parent

# District, region code of resident IDs issued there, court code, offices' road.
DISTRICTS = [
    ("五华区", "530102"),
    ("盘龙区", "530103"),
    ("官渡区", "530111"),
    ("西山区", "530112"),
    ("呈贡区", "530114"),
    ("晋宁区", "530115"),
    ("安宁市", "530181"),
]
DISTRICT_WEIGHTS = [17, 16, 20, 16, 13, 8, 10]
REGION = dict(DISTRICTS)

# GB 11643-1999: ISO 7064 MOD 11-2 over the first 17 digits.
ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
ID_CHECK = "10X98765432"

SURNAMES = (
    "李李李王王王张张张杨杨杨刘刘陈陈赵赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董"
    "袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶"
    "贺顾毛郝龚邵万严武戴孔向汤普字杞"
)
GIVEN_MALE = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林洋海峰兵锋成志国建文云昆滇"
GIVEN_FEMALE = "芳娜敏静丽艳娟霞秀玲燕红梅莉兰琴云洁婷雪慧颖倩琳菲瑶萍露晶蕾欣月彤丹雯怡佳"

ROAD_HEADS = [
    "青云", "金沙", "翠微", "春晖", "锦华", "云岭", "碧波", "润城", "兴和", "书香", "松茂", "柏林",
    "海棠", "梧桐", "兰亭", "竹园", "花溪", "紫薇", "凤鸣", "龙泉", "鹤翔", "长乐", "永宁", "和平",
    "振兴", "光明", "宝丰", "瑞祥", "安康", "福泰", "临湖", "望山", "东昇", "西岸", "南屏", "北辰",
]
ROAD_TAILS = ["路", "路", "路", "街", "大道", "巷"]
COMMUNITY_HEADS = [
    "春城", "金碧", "翠湖", "彩云", "滇韵", "锦绣", "螺峰", "碧鸡", "云樾", "山水", "湖景", "阳光",
    "幸福", "和谐", "紫云", "蓝湾", "景泰", "恒盛", "世纪", "时代", "星河", "御景", "香榭", "枫林",
    "银杏", "玉兰", "茶花", "樱花", "香樟", "悦府", "雅园", "宜居", "润和", "嘉和", "君悦", "海伦",
    "天悦", "朗诗", "晨光", "东方", "西城", "南苑", "北郡", "中央", "滇池", "阳宗", "宝象", "长虹",
]
COMMUNITY_TAILS = [
    "小区", "花园", "苑", "家园", "公寓", "雅居", "名城", "新村", "华府", "水岸", "佳园", "城",
    "府", "里", "庭", "湾", "国际", "广场", "园", "居",
]
AGENCY_WORDS = [
    "安居", "宜居", "春城", "金碧", "滇池", "翠湖", "彩云", "恒信", "鑫诚", "和家", "乐居", "佳园",
    "福满", "瑞丰", "嘉禾", "信达", "家和", "华庭", "盛世", "顺安", "居美", "同心", "睿居", "诚品",
]
AGENCY_FORMS = ["昆明{}房产经纪有限公司", "昆明{}房地产经纪有限公司", "云南{}置业顾问有限公司",
                "昆明{}不动产经纪有限公司"]
BANKS = [
    ("BK-01", "中国工商银行", "昆明分行"),
    ("BK-02", "中国农业银行", "昆明分行"),
    ("BK-03", "中国银行", "昆明分行"),
    ("BK-04", "中国建设银行", "昆明分行"),
    ("BK-05", "交通银行", "昆明分行"),
    ("BK-06", "中国邮政储蓄银行", "昆明分行"),
    ("BK-07", "招商银行", "昆明分行"),
    ("BK-08", "富滇银行", "昆明分行"),
    ("BK-09", "兴业银行", "昆明分行"),
    ("BK-10", "云南红塔银行", "昆明分行"),
]
BANK_WEIGHTS = [16, 12, 12, 18, 6, 8, 10, 10, 5, 3]
PHONE_PREFIXES = ["130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151",
                  "152", "153", "155", "157", "158", "159", "166", "173", "177", "180", "181",
                  "182", "183", "185", "186", "187", "188", "189", "191", "198", "199"]

PROPERTY_COUNT = 320
OLD_CERTIFICATE_COUNT = 36
MORTGAGED_COUNT = 42
SEIZED_COUNT = 13
CO_OWNED_COUNT = 48
MULTI_PROPERTY_OWNERS = 8  # people who own two properties
CITIZEN_OWNERS = 16
CITIZEN_OTHERS = 36
AGENCY_COUNT = 22
POPULATION_OTHERS = 300  # people in the population register and in no other file


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.ids = set()
        self.phones = set()
        self.names = set()

    # People -------------------------------------------------------------------------------
    def name(self, male):
        pool = GIVEN_MALE if male else GIVEN_FEMALE
        for _ in range(1000):
            given = "".join(self.r.choice(pool) for _ in range(self.r.choice([1, 2, 2, 2])))
            full = self.r.choice(SURNAMES) + given
            if full not in self.names:
                self.names.add(full)
                return full
        raise RuntimeError("ran out of names")

    def id_number(self, region, male, born_from, born_to):
        span = (born_to - born_from).days
        for _ in range(1000):
            birth = born_from + timedelta(days=self.r.randrange(span + 1))
            seq = self.r.randrange(0, 1000)
            if (seq % 2 == 1) != male:  # the 17th digit is odd for men, even for women
                seq = (seq + 1) % 1000
            body = f"{region}{birth:%Y%m%d}{seq:03d}"
            full = body + check_character(body)
            if full not in self.ids:
                self.ids.add(full)
                return full
        raise RuntimeError("ran out of ID numbers")

    def phone(self):
        while True:
            p = self.r.choice(PHONE_PREFIXES) + f"{self.r.randrange(10**8):08d}"
            if p not in self.phones:
                self.phones.add(p)
                return p

    def person(self, region, born_from=date(1950, 1, 1), born_to=date(2003, 12, 31)):
        male = self.r.random() < 0.5
        return {
            "name": self.name(male),
            "id_number": self.id_number(region, male, born_from, born_to),
            "phone": self.phone(),
        }

    # Places -------------------------------------------------------------------------------
    def road(self):
        return self.r.choice(ROAD_HEADS) + self.r.choice(ROAD_TAILS)


def check_character(body17):
    total = sum(int(d) * w for d, w in zip(body17, ID_WEIGHTS))
    return ID_CHECK[total % 11]


def pick_district(r):
    return r.choices([d for d, _ in DISTRICTS], weights=DISTRICT_WEIGHTS)[0]


def shares(r, n):
    if n == 1:
        return [100]
    if n == 2:
        return r.choice([[50, 50], [50, 50], [60, 40], [70, 30]])
    return r.choice([[34, 33, 33], [40, 30, 30], [50, 25, 25]])


def generate():
    g = Gen(SEED)
    r = g.r

    # Communities: each has a district, a road and a street number, and a building shape.
    communities = []
    used_names = set()
    while len(communities) < 90:
        name = r.choice(COMMUNITY_HEADS) + r.choice(COMMUNITY_TAILS)
        if name in used_names:
            continue
        used_names.add(name)
        floors_total = r.choice([6, 7, 7, 9, 11, 18, 18, 24, 26, 32, 33])
        built = r.randrange(1996, 2023) if floors_total > 9 else r.randrange(1992, 2012)
        communities.append({
            "name": name,
            "district": pick_district(r),
            "road": g.road(),
            "number": r.randrange(1, 900),
            "floors_total": floors_total,
            "built_year": built,
            "buildings": r.randrange(2, 24),
        })

    # Properties: plain fields first; owners, certificates and encumbrances assigned after so
    # the exact counts are met.
    properties = []
    used_units = set()
    while len(properties) < PROPERTY_COUNT:
        c = r.choice(communities)
        building = r.randrange(1, c["buildings"] + 1)
        unit = r.randrange(1, 4)
        floor = r.randrange(1, c["floors_total"] + 1)
        door = r.randrange(1, 5)
        key = (c["name"], building, unit, floor, door)
        if key in used_units:
            continue
        used_units.add(key)
        rooms = r.choices([1, 2, 3, 4, 5], weights=[8, 30, 42, 16, 4])[0]
        base = {1: 42, 2: 68, 3: 95, 4: 128, 5: 160}[rooms]
        area = int(round((base + r.uniform(-8, 30)) * 100))
        properties.append({
            "community": c,
            "address": f"{c['district']}{c['road']}{c['number']}号{building}栋{unit}单元{floor}{door:02d}",
            "area_centi_m2": area,
            "rooms": rooms,
            "halls": 1 if rooms <= 2 else r.choice([1, 2, 2]),
            "bathrooms": 1 if rooms <= 2 else r.choice([1, 2, 2]),
            "floor": floor,
        })

    indices = list(range(PROPERTY_COUNT))
    r.shuffle(indices)
    old_set = set(indices[:OLD_CERTIFICATE_COUNT])
    r.shuffle(indices)
    co_owned_set = set(indices[:CO_OWNED_COUNT])
    r.shuffle(indices)
    mortgaged_set = set(indices[:MORTGAGED_COUNT])
    r.shuffle(indices)
    seized_set = set(indices[:SEIZED_COUNT])

    owner_pool = []  # people already owning one property, for the few who own two
    multi_left = MULTI_PROPERTY_OWNERS
    used_certificates = set()
    out = []
    for i, p in enumerate(properties):
        c = p["community"]
        district = c["district"]
        # Owners mostly hold IDs issued in the property's district; some moved from elsewhere.
        owners = []
        n = r.choice([2, 2, 2, 3]) if i in co_owned_set else 1
        for s in shares(r, n):
            reused = n == 1 and multi_left > 0 and len(owner_pool) > 20 and r.random() < 0.06
            if reused:
                # A few people own two properties (the same name, ID and phone on both).
                person = owner_pool.pop(r.randrange(len(owner_pool)))
                multi_left -= 1
            else:
                region = REGION[district] if r.random() < 0.7 else r.choice(DISTRICTS)[1]
                person = g.person(region, born_to=date(2001, 12, 31))
                owner_pool.append(person)
            owners.append(dict(person, share_percent=s))
        if i in old_set:
            # Older 房屋所有权证号: issued before the 2016 switch; 9 digits = issue year + 5 digits.
            built = min(c["built_year"], 2012)
            while True:
                year = r.randrange(max(built, 2000), 2016)
                cert = f"昆明市房权证{district}字第{year}{r.randrange(10**5):05d}号"
                if cert not in used_certificates:
                    break
        else:
            while True:
                year = r.randrange(max(c["built_year"], 2016), 2026)
                cert = f"云({year})昆明市不动产权第{r.randrange(1, 10**7):07d}号"
                if cert not in used_certificates:
                    break
        used_certificates.add(cert)
        mortgage = None
        if i in mortgaged_set:
            bank = r.choices(BANKS, weights=BANK_WEIGHTS)[0][0]
            yuan = r.randrange(150, 1500) * 1000
            mortgage = {"bank_id": bank, "amount_fen": yuan * 100}
        seizure = None
        if i in seized_set:
            year = r.randrange(2022, 2026)
            if r.random() < 0.7:
                region = REGION[district]
                # County-level cities' courts carry no city prefix (安宁市人民法院).
                court = f"{district}人民法院" if district.endswith("市") else f"昆明市{district}人民法院"
                case_no = f"({year})云{region[2:]}执保{r.randrange(1, 3000)}号"
            else:
                court = "昆明市中级人民法院"
                case_no = f"({year})云01执保{r.randrange(1, 900)}号"
            seizure = {"court": court, "case_no": case_no}
        out.append({
            "certificate_no": cert,
            "district": district,
            "community": c["name"],
            "address": p["address"],
            "area_centi_m2": p["area_centi_m2"],
            "rooms": p["rooms"],
            "halls": p["halls"],
            "bathrooms": p["bathrooms"],
            "floor": p["floor"],
            "floors_total": c["floors_total"],
            "built_year": c["built_year"],
            "usage": "商住" if r.random() < 0.09 else "住宅",
            "owners": owners,
            "mortgage": mortgage,
            "seizure": seizure,
        })

    # Every distinct owner.
    owners_by_id = {}
    for prop in out:
        for o in prop["owners"]:
            owners_by_id[o["id_number"]] = {k: o[k] for k in ("name", "id_number", "phone")}

    # Citizens: some owners (same name, ID and phone as on their certificate) and some others.
    # Owners first among those of unencumbered, single-owner properties so demos can sell them.
    sellable = [prop["owners"][0]["id_number"] for prop in out
                if len(prop["owners"]) == 1 and prop["mortgage"] is None and prop["seizure"] is None]
    citizens = [owners_by_id[i] for i in sellable[:CITIZEN_OWNERS]]
    for _ in range(CITIZEN_OTHERS):
        citizens.append(g.person(r.choice(DISTRICTS)[1], born_from=date(1960, 1, 1)))
    r.shuffle(citizens)

    # Agencies and agents.
    agencies = []
    words = r.sample(AGENCY_WORDS, AGENCY_COUNT)
    agent_seq = 0
    agency_licences, agent_licences = set(), set()
    for n, word in enumerate(words, start=1):
        district = pick_district(r)
        while True:
            licence = f"KMJJ-{r.randrange(2016, 2025)}-{r.randrange(1, 10**4):04d}"
            if licence not in agency_licences:
                agency_licences.add(licence)
                break
        agents = []
        for _ in range(r.randrange(3, 7)):
            agent_seq += 1
            person = g.person(r.choice(DISTRICTS)[1], born_from=date(1972, 1, 1), born_to=date(2002, 12, 31))
            while True:
                a_licence = f"KMJJR-{r.randrange(2016, 2026)}-{r.randrange(1, 10**4):04d}"
                if a_licence not in agent_licences:
                    agent_licences.add(a_licence)
                    break
            agents.append({"agent_id": f"AT-{agent_seq:04d}", **person, "licence_no": a_licence})
        community = r.choice([c for c in communities if c["district"] == district] or communities)
        agencies.append({
            "agency_id": f"AG-{n:04d}",
            "name": r.choice(AGENCY_FORMS).format(word),
            "licence_no": licence,
            "district": district,
            "address": f"{district}{g.road()}{r.randrange(1, 600)}号{community['name']}{r.randrange(1, 6)}栋{r.randrange(101, 120)}商铺",
            "agents": agents,
        })

    banks = [{"bank_id": b, "name": name, "branch": branch} for b, name, branch in BANKS]

    offices = [{
        "office_id": "OF-01",
        "name": "昆明市存量房交易服务中心",
        "district": "官渡区",
        "address": f"官渡区{g.road()}{r.randrange(1, 600)}号政务服务大厅3楼",
        "hours": "周一至周五 9:00-17:00，周六 9:00-12:00",
        "phone": f"0871-6{r.randrange(10**6, 10**7):07d}"[:13],
    }]
    for n, (district, _) in enumerate(DISTRICTS, start=2):
        offices.append({
            "office_id": f"OF-{n:02d}",
            "name": f"{district}存量房交易办理点",
            "district": district,
            "address": f"{district}{g.road()}{r.randrange(1, 600)}号{district[:-1]}政务服务中心{r.randrange(1, 4)}楼",
            "hours": "周一至周五 9:00-17:00",
            "phone": f"0871-6{r.randrange(10**6, 10**7):07d}"[:13],
        })

    # The population register: every person of the files above (same name, ID and phone) plus
    # people who appear nowhere else. Drawn last, so that adding it changed none of the files
    # above. Sorted by ID number, as a register would be.
    population = {}
    for prop in out:
        for o in prop["owners"]:
            population[o["id_number"]] = {k: o[k] for k in ("name", "id_number", "phone")}
    for c in citizens:
        population[c["id_number"]] = dict(c)
    for ag in agencies:
        for a in ag["agents"]:
            population[a["id_number"]] = {k: a[k] for k in ("name", "id_number", "phone")}
    for _ in range(POPULATION_OTHERS):
        p = g.person(r.choice(DISTRICTS)[1], born_from=date(1960, 1, 1))
        population[p["id_number"]] = p
    population = [population[k] for k in sorted(population)]

    return {
        "properties.json": out,
        "citizens.json": citizens,
        "agencies.json": agencies,
        "banks.json": banks,
        "offices.json": offices,
        "population.json": population,
    }


# Checks ---------------------------------------------------------------------------------------

ID_RE = re.compile(r"^(\d{6})(\d{4})(\d{2})(\d{2})\d{3}[\dX]$")
PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
NEW_CERT_RE = re.compile(r"^云\((\d{4})\)昆明市不动产权第(\d{7})号$")
OLD_CERT_RE = re.compile(r"^昆明市房权证(.+)字第(\d{9})号$")


def check(files):
    errors = []

    def need(cond, message):
        if not cond:
            errors.append(message)

    def check_person(p, where):
        m = ID_RE.match(p["id_number"])
        need(m is not None, f"{where}: ID {p['id_number']} malformed")
        if m:
            need(m.group(1) in REGION.values(), f"{where}: ID region {m.group(1)} not a Kunming district")
            try:
                date(int(m.group(2)), int(m.group(3)), int(m.group(4)))
            except ValueError:
                errors.append(f"{where}: ID birth date invalid")
            need(check_character(p["id_number"][:17]) == p["id_number"][17], f"{where}: ID check character wrong")
        need(PHONE_RE.match(p["phone"]) is not None, f"{where}: phone {p['phone']} malformed")
        need(2 <= len(p["name"]) <= 4, f"{where}: name {p['name']} length")

    people = {}

    def same_person(p, where):
        key = p["id_number"]
        view = (p["name"], p["phone"])
        need(people.setdefault(key, view) == view, f"{where}: {key} has another name or phone elsewhere")

    props = files["properties.json"]
    banks = {b["bank_id"] for b in files["banks.json"]}
    districts = {d for d, _ in DISTRICTS}
    need(len(props) >= 300, "fewer than 300 properties")
    need(len({p["certificate_no"] for p in props}) == len(props), "certificate numbers not unique")
    need(len({p["address"] for p in props}) == len(props), "addresses not unique")
    old = [p for p in props if OLD_CERT_RE.match(p["certificate_no"])]
    need(len(old) >= 30, "fewer than 30 old-format certificates")
    need(sum(p["mortgage"] is not None for p in props) >= 30, "fewer than 30 mortgaged")
    need(sum(p["seizure"] is not None for p in props) >= 10, "fewer than 10 seized")
    need(sum(len(p["owners"]) >= 2 for p in props) >= 40, "fewer than 40 co-owned")
    need({p["district"] for p in props} == districts, "not every district has properties")
    for p in props:
        where = p["certificate_no"]
        new, oldm = NEW_CERT_RE.match(where), OLD_CERT_RE.match(where)
        need(bool(new) != bool(oldm), f"{where}: certificate format")
        if new:
            need(2016 <= int(new.group(1)) <= 2025, f"{where}: certificate year")
        if oldm:
            need(oldm.group(1) == p["district"], f"{where}: old certificate names another district")
        need(p["district"] in districts, f"{where}: district")
        need(p["address"].startswith(p["district"]), f"{where}: address outside its district")
        need(isinstance(p["area_centi_m2"], int) and 2000 <= p["area_centi_m2"] <= 50000, f"{where}: area")
        need(1 <= p["floor"] <= p["floors_total"], f"{where}: floor")
        need(p["usage"] in ("住宅", "商住"), f"{where}: usage")
        need(1 <= len(p["owners"]) <= 3, f"{where}: owner count")
        need(sum(o["share_percent"] for o in p["owners"]) == 100, f"{where}: shares do not sum to 100")
        need(len({o["id_number"] for o in p["owners"]}) == len(p["owners"]), f"{where}: an owner twice")
        for o in p["owners"]:
            check_person(o, where)
            same_person(o, where)
            need(isinstance(o["share_percent"], int) and o["share_percent"] > 0, f"{where}: share")
        if p["mortgage"] is not None:
            need(p["mortgage"]["bank_id"] in banks, f"{where}: unknown bank {p['mortgage']['bank_id']}")
            need(isinstance(p["mortgage"]["amount_fen"], int) and p["mortgage"]["amount_fen"] > 0, f"{where}: mortgage amount")
        if p["seizure"] is not None:
            need(p["seizure"]["court"].endswith("人民法院") and p["seizure"]["case_no"], f"{where}: seizure")

    owner_ids = {o["id_number"] for p in props for o in p["owners"]}
    citizens = files["citizens.json"]
    need(len(citizens) >= 40, "fewer than 40 citizens")
    need(len({c["id_number"] for c in citizens}) == len(citizens), "citizen IDs not unique")
    need(sum(c["id_number"] in owner_ids for c in citizens) >= 5, "too few citizens own a property")
    need(sum(c["id_number"] not in owner_ids for c in citizens) >= 20, "too few citizens without property")
    for c in citizens:
        check_person(c, f"citizen {c['name']}")
        same_person(c, f"citizen {c['name']}")

    agencies = files["agencies.json"]
    agents = [a for ag in agencies for a in ag["agents"]]
    need(len(agencies) >= 20, "fewer than 20 agencies")
    need(len(agents) >= 80, "fewer than 80 agents")
    need(len({a["agency_id"] for a in agencies}) == len(agencies), "agency ids not unique")
    need(len({a["licence_no"] for a in agencies}) == len(agencies), "agency licences not unique")
    need(len({a["name"] for a in agencies}) == len(agencies), "agency names not unique")
    need(len({a["agent_id"] for a in agents}) == len(agents), "agent ids not unique")
    need(len({a["licence_no"] for a in agents}) == len(agents), "agent licences not unique")
    for a in agencies:
        need(re.match(r"^AG-\d{4}$", a["agency_id"]) is not None, f"{a['agency_id']}: id format")
        need(re.match(r"^KMJJ-\d{4}-\d{4}$", a["licence_no"]) is not None, f"{a['agency_id']}: licence")
        need(a["district"] in districts and a["address"].startswith(a["district"]), f"{a['agency_id']}: district")
    for a in agents:
        need(re.match(r"^AT-\d{4}$", a["agent_id"]) is not None, f"{a['agent_id']}: id format")
        need(re.match(r"^KMJJR-\d{4}-\d{4}$", a["licence_no"]) is not None, f"{a['agent_id']}: licence")
        check_person(a, a["agent_id"])
        same_person(a, a["agent_id"])

    bank_list = files["banks.json"]
    need(len(bank_list) >= 8, "fewer than 8 banks")
    need(len(banks) == len(bank_list), "bank ids not unique")
    offices = files["offices.json"]
    need({o["district"] for o in offices} >= districts, "a district has no filing office")
    need(len({o["office_id"] for o in offices}) == len(offices), "office ids not unique")
    for o in offices:
        need(re.match(r"^0871-\d{8}$", o["phone"]) is not None, f"{o['office_id']}: phone")
    population = files["population.json"]
    by_id = {p["id_number"]: p for p in population}
    need(len(by_id) == len(population), "population ID numbers not unique")
    need(len({p["phone"] for p in population}) == len(population), "population phones not unique")
    need([p["id_number"] for p in population] == sorted(by_id), "population not sorted by ID number")
    for p in population:
        check_person(p, f"population {p['name']}")
        same_person(p, f"population {p['name']}")
    everyone = [o for p in props for o in p["owners"]] + citizens + agents
    for p in everyone:
        need(p["id_number"] in by_id, f"{p['name']} is not in the population register")
    need(len(set(by_id) - {p["id_number"] for p in everyone}) >= 200,
         "fewer than 200 people only in the population register")
    holdings = {}
    for p in props:
        for o in p["owners"]:
            holdings[o["id_number"]] = holdings.get(o["id_number"], 0) + 1
    need(any(n >= 2 for n in holdings.values()), "nobody owns two properties")
    return errors


def render(value):
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"


def main():
    files = generate()
    errors = check(files)
    if errors:
        for e in errors:
            print("reference data:", e, file=sys.stderr)
        sys.exit(1)
    if "--check" in sys.argv[1:]:
        stale = [name for name, value in files.items()
                 if not (OUT / name).exists() or (OUT / name).read_text(encoding="utf-8") != render(value)]
        if stale:
            print("reference data differs from generate.py's output:", ", ".join(stale), file=sys.stderr)
            sys.exit(1)
        print("reference data: up to date and valid")
        return
    for name, value in files.items():
        (OUT / name).write_text(render(value), encoding="utf-8")
    props = files["properties.json"]
    print(
        f"properties {len(props)} (old certificates {sum(bool(OLD_CERT_RE.match(p['certificate_no'])) for p in props)}, "
        f"mortgaged {sum(p['mortgage'] is not None for p in props)}, seized {sum(p['seizure'] is not None for p in props)}, "
        f"co-owned {sum(len(p['owners']) > 1 for p in props)}, owners {len({o['id_number'] for p in props for o in p['owners']})}), citizens {len(files['citizens.json'])} "
        f"(owners {sum(c['id_number'] in {o['id_number'] for p in props for o in p['owners']} for c in files['citizens.json'])}), "
        f"agencies {len(files['agencies.json'])}, agents {sum(len(a['agents']) for a in files['agencies.json'])}, "
        f"banks {len(files['banks.json'])}, offices {len(files['offices.json'])}, "
        f"population {len(files['population.json'])}"
    )


if __name__ == "__main__":
    main()
