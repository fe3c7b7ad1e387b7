// The pages' words, Chinese by default with an English toggle (remembered in the browser).

const WORDS = {
  site: ['昆明市存量房交易服务平台', 'Kunming Resale Housing Platform'],
  tagline: ['链上验真：页面自己核对账本证明', 'Checked on the log: this page verifies the proofs itself'],
  skip: ['跳到正文', 'Skip to content'],
  lang_toggle: ['English', '中文'],
  lang_toggle_label: ['Switch to English', '切换到中文'],
  nav: ['主导航', 'Main'],
  nav_listings: ['房源', 'Listings'],
  nav_agents: ['经纪机构与经纪人', 'Agencies & agents'],
  nav_offices: ['办理点', 'Filing offices'],
  nav_contract: ['合同验真', 'Contract check'],
  nav_document: ['文件验真', 'Document check'],
  nav_log: ['账本', 'Log'],
  loading: ['正在加载…', 'Loading…'],
  error_load: ['无法加载：', 'Could not load: '],
  search_title: ['房源搜索', 'Find a listing'],
  district: ['区', 'District'],
  any: ['不限', 'Any'],
  price_min: ['最低价（万元）', 'Lowest price (10k yuan)'],
  price_max: ['最高价（万元）', 'Highest price (10k yuan)'],
  area_min: ['最小面积（㎡）', 'Smallest area (m²)'],
  area_max: ['最大面积（㎡）', 'Largest area (m²)'],
  rooms: ['居室', 'Bedrooms'],
  sort: ['排序', 'Order'],
  sort_newest: ['最新发布', 'Newest'],
  sort_oldest: ['最早发布', 'Oldest'],
  sort_price_asc: ['总价从低到高', 'Price, low to high'],
  sort_price_desc: ['总价从高到低', 'Price, high to low'],
  sort_area_asc: ['面积从小到大', 'Area, small to large'],
  sort_area_desc: ['面积从大到小', 'Area, large to small'],
  search: ['搜索', 'Search'],
  results: ['搜索结果', 'Results'],
  no_results: ['没有符合条件的房源。', 'No listing matches.'],
  prev: ['上一页', 'Previous'],
  next: ['下一页', 'Next'],
  page_of: ['第 {n} 页', 'Page {n}'],
  rooms_short: ['{r}室{h}厅{b}卫', '{r} bed {h} living {b} bath'],
  floor_of: ['{f}/{t}层', 'floor {f} of {t}'],
  wan: ['{v}万元', '¥{v}0k'],
  per_m2: ['单价 {v} 元/㎡', '{v} yuan/m²'],
  self_listed: ['业主自售', 'Listed by the owner'],
  listing_title: ['房源详情', 'Listing'],
  code: ['房源验真码', 'Listing verification code'],
  code_qr: ['验真码二维码（扫码打开本页）', 'QR code of the verification code (opens this page)'],
  status: ['状态', 'Status'],
  status_active: ['在售', 'For sale'],
  status_withdrawn: ['已下架', 'Withdrawn'],
  status_closed: ['已成交', 'Sold'],
  status_pending_review: ['待审核', 'Pending review'],
  status_filed: ['已备案', 'Filed'],
  status_filing_cancelled: ['备案已撤销', 'Filing cancelled'],
  status_certified: ['已认证', 'Certified'],
  status_suspended: ['已暂停', 'Suspended'],
  price: ['总价', 'Price'],
  area: ['建筑面积', 'Area'],
  layout: ['户型', 'Layout'],
  floor: ['楼层', 'Floor'],
  community: ['小区', 'Community'],
  description: ['房源描述', 'Description'],
  published: ['发布时间', 'Published'],
  agent: ['经纪人', 'Agent'],
  agency: ['经纪机构', 'Agency'],
  licence: ['执业证号', 'Licence no.'],
  agency_licence: ['备案证号', 'Registration no.'],
  price_history: ['价格记录', 'Price history'],
  ph_when: ['时间', 'When'],
  ph_price: ['价格', 'Price'],
  ph_signer: ['签名者', 'Signed by'],
  ph_seq: ['账本序号', 'Log seq'],
  ph_check: ['核对', 'Check'],
  ph_more: ['共 {n} 条，显示最近 {m} 条', '{n} in all, the latest {m} shown'],
  photos: ['照片指纹（SHA-256）', 'Photo fingerprints (SHA-256)'],
  verification_code: ['房产核验码', 'Property verification code'],
  seller: ['卖方', 'Seller'],
  badge_checking: ['正在浏览器中核对账本证明…', 'Checking the log proofs in this browser…'],
  badge_green: ['已在链上验证', 'Verified on the log'],
  badge_red: ['验证失败', 'Verification FAILED'],
  badge_unknown: ['无法验证', 'Could not check'],
  badge_green_detail: ['本浏览器已核对：条目签名、账本签名（检查点）和包含证明；显示的字段与签名条目一致。', 'This browser checked the entry signatures, the log’s signed checkpoint and the inclusion proofs; the fields shown match the signed entries.'],
  badge_log_detail: ['本浏览器已核对：检查点由账本公钥签名，并与此前见到的检查点一致。', 'This browser checked that the checkpoint is signed by the log key and consistent with the one it saw before.'],
  badge_red_detail: ['服务器给出的内容与账本证明不符，请勿相信本页信息。原因：', 'What the server shows does not match the log’s proof. Do not rely on this page. Reason: '],
  badge_unknown_detail: ['未能完成核对（不代表内容有误）。原因：', 'The check could not be completed (which does not mean anything is wrong). Reason: '],
  unverified_title: ['未经证明的字段（服务器所述）', 'Fields not proved (the server’s word)'],
  verified_fields: ['已证明的字段', 'Fields proved'],
  at_checkpoint: ['对照检查点：账本大小 {n}', 'Against the checkpoint of log size {n}'],
  consistent_with: ['与本浏览器此前验证的检查点（大小 {n}）一致', 'Consistent with the checkpoint this browser verified before (size {n})'],
  first_checkpoint: ['本浏览器首次记录此账本的检查点', 'The first checkpoint of this log this browser remembers'],
  log_key: ['账本公钥', 'Log key'],
  key_pinned: ['已固定在本页代码中，请与办理点纸质公告核对', 'pinned in this page’s code; compare it with the one printed at a filing office'],
  key_tofu: ['本版本未固定公钥：首次使用时记住，之后变化将报错。请与纸质公告核对', 'this build pins no key: remembered on first use, any later change is red. Compare it with the one printed on paper'],
  engine: ['签名校验：{e}', 'Signature engine: {e}'],
  agents_title: ['经纪人（按评分）', 'Agents (by rating)'],
  agencies_title: ['经纪机构', 'Agencies'],
  score: ['评分', 'Score'],
  ratings: ['{n} 条评价', '{n} ratings'],
  agents_count: ['{n} 名经纪人', '{n} agents'],
  address: ['地址', 'Address'],
  offices_title: ['办理点', 'Filing offices'],
  hours: ['办公时间', 'Hours'],
  phone: ['电话', 'Phone'],
  open_map: ['在地图中打开', 'Open in maps'],
  contract_title: ['合同备案验真', 'Check a filed contract'],
  filing_code: ['备案码', 'Filing code'],
  filing_hint: ['例如 FC-0A1B2C3D4E5F6071', 'e.g. FC-0A1B2C3D4E5F6071'],
  check: ['核对', 'Check'],
  not_found: ['未找到：', 'Not found: '],
  code_mistyped: ['验真码输入有误（校验位不符或含无效字符），请核对后重新输入：', 'The code is mistyped (its check symbol does not match, or a symbol is invalid); please check it and type it again: '],
  code_v1: ['账本中的形式', 'as on the log'],
  pdf_genuine: ['这份 PDF 与账本上已备案的合同逐字节一致。', 'This PDF is, byte for byte, the filed contract the log holds.'],
  pdf_altered: ['这份 PDF 不是已备案合同的原件：文件被改动过（哪怕一个字节）。', 'This PDF is not the filed contract: the file was changed (even one byte is enough).'],
  pdf_not_current: ['合同曾经备案，但现已不再有效（备案已撤销）。', 'The contract was filed but is no longer (its filing was cancelled).'],
  contract: ['合同', 'Contract'],
  property: ['房产', 'Property'],
  listing: ['房源', 'Listing'],
  document_hash: ['合同文件指纹', 'Contract document fingerprint'],
  filed_seq: ['备案条目序号', 'Filing entry seq'],
  signatures: ['签署（角色 → 条目序号）', 'Signatures (role → entry seq)'],
  document_title: ['文件验真', 'Check a document'],
  document_hint: ['文件只在本浏览器内计算 SHA-256，只发送指纹，不上传文件。', 'The file is hashed in this browser; only its SHA-256 is sent, never the file.'],
  choose_file: ['选择文件', 'Choose a file'],
  sha256: ['SHA-256 指纹', 'SHA-256 fingerprint'],
  doc_none: ['账本上没有这个文件的指纹（无法证明“不存在”，只能说服务器没有找到）。', 'This fingerprint is not on the log (absence cannot be proved: the server found none).'],
  what_contract_document: ['合同文件', 'contract document'],
  what_offline_scan: ['线下核验扫描件', 'offline verification scan'],
  what_listing_photo: ['房源照片', 'listing photo'],
  current: ['当前有效', 'current'],
  not_current: ['已被替换', 'superseded'],
  log_title: ['账本', 'The log'],
  origin: ['账本名称', 'Origin'],
  size: ['条目数', 'Entries'],
  root: ['根哈希', 'Root hash'],
  checkpoint: ['最新检查点（已签名）', 'Latest checkpoint (signed)'],
  witnesses: ['见证者', 'Witnesses'],
  no_witnesses: ['暂无见证者签名', 'No witness cosignatures yet'],
  time: ['时间', 'Time'],
};

const STORE = 'deedlog.lang';

let lang = 'zh';
try {
  lang = globalThis.localStorage?.getItem(STORE) === 'en' ? 'en' : 'zh';
} catch {
  lang = 'zh';
}

/** The current language: `zh` or `en`. */
export const currentLang = () => lang;

/** Switches the language and remembers it. */
export function setLang(next) {
  lang = next === 'en' ? 'en' : 'zh';
  try {
    globalThis.localStorage?.setItem(STORE, lang);
  } catch {
    // Private browsing may refuse storage; the choice then lasts for this page only.
  }
}

/** The word for `key`, with `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const pair = WORDS[key];
  let s = pair ? pair[lang === 'en' ? 1 : 0] : key;
  for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
  return s;
}
