// DEVELOPMENT ONLY: an in-memory stand-in for the bridge, with the device API's
// shapes, so screens can be built and looked at before the real core is wired in.
// No test and no benchmark uses it: they run against the real core through the
// bridge (tests/browser, bench/). Serves dist/ and /api on 127.0.0.1:8471.
//   node dev/mock-bridge.mjs [--children N] [--port P]
import http from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import { join, extname } from 'node:path';
import { randomUUID } from 'node:crypto';

const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const N = Number(opt('--children', 40));
const PORT = Number(opt('--port', 8471));
const dist = join(import.meta.dirname, '..', 'dist');

const T = (code, zh, en) => ({ code, zh, en });
const vocab = {
  categories: [T('institution_orphan', '机构养育孤儿', 'Institution orphan'), T('community_orphan', '社会散居孤儿', 'Community orphan'), T('de_facto_unsupported', '事实无人抚养儿童', 'De-facto unsupported'), T('key_difficulty', '重点困境儿童', 'Key child in difficulty'), T('difficulty', '困境儿童', 'Child in difficulty'), T('left_behind', '农村留守儿童', 'Left-behind child')],
  sexes: [T('male', '男', 'Male'), T('female', '女', 'Female')],
  risk_colours: [T('red', '红色（立即干预）', 'Red (intervene now)'), T('yellow', '黄色（定期干预）', 'Yellow (intervene regularly)'), T('blue', '蓝色（持续关注）', 'Blue (keep watching)'), T('green', '绿色（情况良好）', 'Green (fine)')],
  guardianship_ratings: [T('good', '较好', 'Good'), T('fair', '一般', 'Fair'), T('poor', '差', 'Poor')],
  exit_reasons: [], assistance: [],
  guardian_roles: [T('father', '父亲', 'Father'), T('mother', '母亲', 'Mother'), T('grandparent', '祖父母/外祖父母', 'Grandparent'), T('entrusted_caregiver', '受委托照护人', 'Entrusted caregiver'), T('other_guardian', '其他监护人', 'Other guardian')],
  whereabouts: [T('at_home', '在家', 'At home'), T('away_working', '外出务工', 'Away working')],
  visit_modes: [T('home', '入户走访', 'Home visit'), T('phone', '电话', 'Phone'), T('wechat_video', '微信视频', 'WeChat video'), T('school', '到学校', 'At school')],
  visit_actions: [T('resolved_on_spot', '当场解决', 'Resolved on the spot'), T('referral', '转介', 'Referral'), T('mandatory_report', '强制报告', 'Mandatory report')],
  checklist_areas: [T('living', '生活', 'Living'), T('guardianship', '监护', 'Guardianship'), T('education', '教育', 'Education'), T('health', '健康', 'Health'), T('safety', '安全', 'Safety'), T('mood', '心理', 'Mood')],
  item_statuses: [T('normal', '正常', 'Normal'), T('watch', '关注', 'Watch'), T('abnormal', '异常', 'Abnormal')],
  signer_roles: [T('principal', '甲方（委托人）', 'Principal'), T('caregiver', '乙方（受托照护人）', 'Caregiver'), T('witness', '见证方', 'Witness')],
  principal_relations: [T('father', '父亲', 'Father'), T('mother', '母亲', 'Mother'), T('guardian', '监护人', 'Guardian')],
  renewals: [T('new_agreement', '到期终止，需继续委托的重新签订', 'Ends; sign a new one'), T('automatic', '到期无异议自动续期一年', 'Renews for a year')],
  referral_kinds: [], health_conditions: [], disability_types: [], school_stages: [], enrolments: [], task_kinds: [T('first_visit', '首次走访', 'First visit')],
};

const surnames = '王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗';
const given = ['小花', '小明', '欣怡', '子涵', '浩然', '雨桐', '梓轩', '诗琪', '俊杰', '佳怡', '宇航', '思彤'];
const state = { phase: 'needs_enrollment', pin: null, failed: 0, lang: 'zh', auto_lock: 300, lastSuccess: null, pending: 0 };
const children = [];
for (let i = 0; i < N; i++) {
  const risk = ['red', 'yellow', 'blue', 'green'][i % 4];
  const due = i % 5 === 0 ? 'overdue' : i % 5 === 1 ? 'due_soon' : 'not_due';
  children.push({
    child_id: randomUUID(), name: surnames[i % surnames.length] + given[i % given.length] + (i >= 240 ? i : ''),
    village: '东村', categories: [i % 3 ? 'left_behind' : 'community_orphan'], risk_colour: risk,
    last_visit_on: i % 7 ? '2026-10-02' : undefined, last_visit_unsynced: i % 11 === 0,
    due_state: due, due_days: (i % 9) + 1, due_zh: '', due_en: '',
    visits: [], guardians: [],
  });
}
const drafts = new Map();
const agDrafts = new Map();
const agVersions = new Map();
const rejected = [];
const syncState = () => ({
  enrolled: state.phase !== 'needs_enrollment', in_flight: false, last_success_at: state.lastSuccess ?? undefined,
  last_attempt_at: new Date().toISOString(), online: false, pending_records: state.pending, pending_changes: state.pending * 12,
  pending_photos: 0, pending_bytes: 0, rejected,
});
const appState = () => ({
  phase: state.phase, enrolled: state.phase !== 'needs_enrollment', device_id: 'dev-0001', server_url: 'http://127.0.0.1:8470',
  villages: ['370602001'], language: state.lang, auto_lock_secs: state.auto_lock, failed_pin_attempts: state.failed,
  wait_secs: state.failed >= 3 ? 5 : 0, wipe_after_attempts: 10, migrating_plain_data: false,
  unsynced: { records: state.pending, photos: 0 }, app_version: '0.1.0-mock',
});
const err = (code, zh, en, field) => ({ status: 400, body: { code, zh, en, field } });
const item = (c) => { const { visits, guardians, ...r } = c; return r; };
const byUrgency = (a, b) => ['red', 'yellow', 'blue', 'green'].indexOf(a.risk_colour) - ['red', 'yellow', 'blue', 'green'].indexOf(b.risk_colour);

const commands = {
  app_state: () => appState(),
  vocabulary: () => vocab,
  enroll: (a) => (a.code ? ((state.phase = 'needs_pin'), appState()) : err('bad_code', '登记码不对', 'wrong code', 'code')),
  set_pin: (a) => ((state.pin = a.pin), (state.phase = 'unlocked'), appState()),
  unlock: (a) => (a.pin === state.pin ? ((state.failed = 0), (state.phase = 'unlocked'), appState()) : (state.failed++, err('wrong_pin', `PIN 码不对。还可以再试 ${10 - state.failed} 次`, 'Wrong PIN', 'pin'))),
  lock: () => ((state.phase = 'locked'), appState()),
  home: () => ({
    overdue: children.filter((c) => c.due_state === 'overdue').sort(byUrgency).map(item),
    due_soon: children.filter((c) => c.due_state === 'due_soon').sort(byUrgency).map(item),
    tasks: [{ task_id: 't1', kind: 'first_visit', title: '首次走访：王小明', due_on: '2026-12-05', village: '东村', overdue: false, child_id: children[0]?.child_id, child_name: children[0]?.name }],
    drafts: [...drafts.values()], children: children.length, sync: syncState(),
  }),
  roster: (f) => children.filter((c) => (!f.search || c.name.includes(f.search)) && (!f.risk_colour || c.risk_colour === f.risk_colour) && (!f.overdue_only || c.due_state === 'overdue')).map(item),
  child_file: (a) => {
    const c = children.find((x) => x.child_id === a.child_id);
    if (!c) return err('not_found', '在本机找不到这条儿童档案', 'not found');
    return {
      child: { child_id: c.child_id, name: c.name, sex: 'female', birth_date: '2016-03-01', id_number: '370602********002X', household_registered: true, current_address: '东村 12 号', village_code: '370602001', categories: c.categories, risk_colour: c.risk_colour, status: 'active', added_on: '2025-01-01', age: 10, sync: { state: 'sent' }, school: { enrolment: 'enrolled', name: '东村小学' } },
      guardians: [{ guardian_id: 'g1', child_id: c.child_id, role: 'father', name: '王大军', whereabouts: 'away_working', work_location: '青岛', phone: '13800000000', sync: { state: 'sent' } }, { guardian_id: 'g2', child_id: c.child_id, role: 'entrusted_caregiver', name: '张秀英', relationship: '祖母', phone: '13900000000', sync: { state: 'on_phone' } }],
      visits: c.visits, agreement_drafts: [...agDrafts.values()], agreements: [], referrals: [], tasks: [], consents: [],
      history: [{ table: 'child', table_zh: '儿童档案', field: 'current_address', field_zh: '现住址', value: '西村 3 号', by_device: 'dev-a', replaced_by_device: 'dev-b', noted_at: '2026-11-30T08:00:00Z' }],
      needs_agreement: true, consent_signed: true,
    };
  },
  save_draft: (a) => (drafts.set(`${a.kind}/${a.key}`, { kind: a.kind, key: a.key, data: a.data, updated_at: new Date().toISOString() }), { saved_at: new Date().toISOString() }),
  get_draft: (a) => drafts.get(`${a.kind}/${a.key}`) ?? null,
  discard_draft: (a) => (drafts.delete(`${a.kind}/${a.key}`), {}),
  record_visit: (a) => {
    const c = children.find((x) => x.child_id === a.child_id);
    const visit_id = randomUUID();
    c.visits.unshift({ visit_id, child_id: c.child_id, visited_at: new Date().toISOString(), visitor: '刘主任', photos: [], sync: { state: 'on_phone' }, ...a });
    c.last_visit_unsynced = true;
    if (a.draft_key) drafts.delete(`visit/${a.draft_key}`);
    state.pending++;
    return { visit_id, photo_ids: a.photo_ids, saved_at: new Date().toISOString() };
  },
  stage_photo: () => ({ photo_id: randomUUID(), thumb_base64: '', width: 1600, height: 1200, bytes: 200000 }),
  discard_photo: () => ({}),
  consent_notice: () => ({ version: 1, sha256: 'ab'.repeat(32), zh: '登记告知书\n\n为了依法保护儿童，村儿童主任将记录孩子的姓名、出生日期、身份证号、家庭和监护情况、健康和上学情况，以及每次走访的情况和照片。\n\n这些信息只用于儿童福利和未成年人保护工作，加密保存在手机和民政部门的服务器上，只有负责的儿童主任、督导员和民政工作人员可以查看，不会给其他人。\n\n如有疑问，可以向村委会或乡镇民政办咨询。', en: 'Registration notice (English)' }),
  add_child: (a) => { const c = { ...children[0], child_id: randomUUID(), name: a.name, visits: [] }; children.unshift(c); return { id: c.child_id, changed: 1, saved_at: new Date().toISOString() }; },
  save_agreement_draft: (a) => { const id = a.draft_id ?? randomUUID(); agDrafts.set(id, { draft_id: id, status: 'draft', terms: a.terms, sync: { state: 'on_phone' } }); return { id, changed: 1, saved_at: new Date().toISOString() }; },
  agreement_preview: (a) => { const t = agDrafts.get(a.draft_id).terms; return { draft_id: a.draft_id, version: 1, sha256: 'c0ffee'.repeat(10) + 'abcd', signers: ['caregiver', 'witness'], problems: t.caregiver.name ? [] : [{ code: 'required', zh: '请填写乙方（受托照护人）姓名', en: 'caregiver.name is required', field: 'terms.caregiver.name' }],
    text: `委托照护协议\n\n甲方（委托人）：${t.principal.name}\n乙方（受托照护人）：${t.caregiver.name}\n\n第一条 甲方因${t.reason}，委托乙方照护儿童${t.child.name}。监护职责仍由甲方承担。\n第二条 乙方负责儿童的日常生活照料、安全（防溺水、交通安全）、上学、就医和情感关爱，发现问题及时告知甲方和儿童主任。\n第三条 甲方承担儿童的生活费用，每周至少与儿童联系一次。` }; },
  sign_agreement: (a) => { const version_id = randomUUID(); agVersions.set(version_id, { draft_id: a.draft_id, signers: a.signers }); agDrafts.get(a.draft_id).status = 'signed'; return { version_id, version: 1, text_sha256: 'c0ffee'.repeat(10) + 'abcd', signature_ids: [] }; },
  agreement: (a) => { const v = agVersions.get(a.version_id); return { child_name: '王小花', text: '委托照护协议\n\n（全文）', version: { version_id: a.version_id, draft_id: v.draft_id, version: 1, text_sha256: 'c0ffee'.repeat(10) + 'abcd', valid_from: '2026-12-01', valid_until: '2027-11-30', signed_at: new Date().toISOString(), expiring: false, expired: false, sync: { state: 'on_phone' }, signatures: v.signers.map((s, i) => ({ signature_id: String(i), signer_role: s.role, signer_name: s.name, image_sha256: 'x', signed_at: new Date().toISOString(), bound_to_text: true, sync: { state: 'on_phone' } })) } }; },
  sync_state: () => syncState(),
  sync_now: () => syncState(),
  settings: () => ({ language: state.lang, auto_lock_secs: state.auto_lock, auto_lock_choices: [60, 120, 300, 600, 1800], device_id: 'dev-0001', server_url: 'http://127.0.0.1:8470', villages: ['370602001'], app_version: '0.1.0-mock', data_encrypted: true, free_storage_bytes: 5e9 }),
  update_settings: (a) => { if (a.language) state.lang = a.language; if (a.auto_lock_secs) state.auto_lock = a.auto_lock_secs; return commands.settings(); },
};

http
  .createServer((req, res) => {
    if (req.url.startsWith('/api/events')) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(`event: sync_state\ndata: ${JSON.stringify(syncState())}\n\n`);
      return;
    }
    if (req.url.startsWith('/api/')) {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const cmd = req.url.slice(5).split('?')[0];
        const fn = commands[cmd];
        let out = fn ? fn(body ? JSON.parse(body) : {}) : err('unknown_command', `未知命令 ${cmd}`, `unknown command ${cmd}`);
        let status = 200;
        if (out && out.status && out.body) ({ status, body: out } = { status: out.status, body: out.body });
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(out));
      });
      return;
    }
    const path = join(dist, req.url === '/' ? 'index.html' : req.url.split('?')[0]);
    if (!existsSync(path)) return res.writeHead(404).end();
    const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
    res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream' });
    res.end(readFileSync(path));
  })
  .listen(PORT, '127.0.0.1', () => console.log(`mock bridge on http://127.0.0.1:${PORT}/ (${N} children)`));
