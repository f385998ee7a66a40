// A fieldsync device written the ordinary JavaScript way with @automerge/automerge: records are
// plain objects (strings become Text, whole numbers ints, optional fields are left out or null),
// sent through the relay's HTTP protocol as docs/protocol.md describes it. Driven by
// tests/tests/foreign_writer_e2e.rs, which reads every record back with the Rust core.
//
//   node foreign_writer.mjs create RELAY_URL CODE STATE_DIR DICTIONARY_FILE
//   node foreign_writer.mjs edit   RELAY_URL STATE_DIR DICTIONARY_FILE
//
// `create` enrols with the one-time CODE, writes one record of every kind a device may write,
// pushes them and prints {device_id, ids}. `edit` changes them again, concurrently with the Rust
// device's edits (it never pulls), and pushes. Both exit 1 if the relay refuses anything.

import * as Automerge from "@automerge/automerge";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";

const AT = 1795654800000; // 2026-11-26 09:00 Beijing time, Unix ms
const HASH = (c) => c.repeat(64); // a SHA-256 in hex

function uuidBytes() {
  return Uint8Array.from(Buffer.from(crypto.randomUUID().replaceAll("-", ""), "hex"));
}

function hyphenated(bytes) {
  const h = Buffer.from(bytes).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// --- the sync wire format (docs/protocol.md, "Sync messages") ---

function varint(n) {
  const out = [];
  let v = BigInt(n);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return Buffer.from(out);
}

function lengthPrefixed(bytes) {
  return Buffer.concat([varint(bytes.length), Buffer.from(bytes)]);
}

function syncRequest(changes) {
  const parts = [Buffer.from([0xf5, 1, 1, 0]), lengthPrefixed([]), varint(1 << 20), varint(changes.length)];
  for (const { docId, bytes } of changes) {
    parts.push(Buffer.from(docId), lengthPrefixed(bytes));
  }
  return Buffer.concat(parts);
}

class Reader {
  constructor(buf) {
    this.buf = buf;
    this.at = 0;
  }
  varint() {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const byte = this.buf[this.at++];
      if (byte === undefined) throw new Error("truncated varint");
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return Number(result);
    }
  }
  bytes() {
    const n = this.varint();
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
}

function syncResponse(body, dictionary) {
  if (body[0] !== 0xf5 || body[1] !== 1 || body[2] !== 2) throw new Error("not a sync response");
  const payload = body[3] & 1 ? zlib.inflateRawSync(body.subarray(4), { dictionary }) : body.subarray(4);
  const r = new Reader(payload);
  r.varint(); // server time
  const accepted = r.varint();
  const rejected = [];
  for (let i = r.varint(); i > 0; i--) {
    rejected.push({ index: r.varint(), code: r.varint(), message: r.bytes().toString("utf8") });
  }
  return { accepted, rejected };
}

async function push(state, changes) {
  const response = await fetch(`${state.url}/v1/sync`, {
    method: "POST",
    headers: { authorization: `Bearer ${state.token}`, "content-type": "application/x-fieldsync" },
    body: syncRequest(changes),
  });
  const body = Buffer.from(await response.arrayBuffer());
  if (!response.ok) throw new Error(`sync answered ${response.status}: ${body.toString("utf8")}`);
  const answer = syncResponse(body, state.dictionary);
  if (answer.rejected.length > 0 || answer.accepted !== changes.length) {
    throw new Error(`the relay refused changes: ${JSON.stringify(answer)}`);
  }
  return answer;
}

// --- enrolment (docs/protocol.md, "Enrollment") ---

async function enroll(url, code) {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("ed25519");
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x, "base64url");
  const message = Buffer.concat([Buffer.from(`fieldsync-enroll-v1\n${code}\n`), raw]);
  const signature = crypto.sign(null, message, privateKey);
  const response = await fetch(`${url}/v1/enroll`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      code,
      public_key: raw.toString("hex"),
      signature: signature.toString("hex"),
      device_name: "automerge-js",
    }),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(`enroll answered ${response.status}: ${JSON.stringify(answer)}`);
  return answer;
}

// --- the records, as a JavaScript developer writes them from docs/protocol.md ---

function records(device) {
  const provenance = { created_at: AT, created_by: device };
  const ids = {
    customer: uuidBytes(),
    lead_card: uuidBytes(),
    opportunity: uuidBytes(),
    visit: uuidBytes(),
    service_slip: uuidBytes(),
    team_rules: uuidBytes(),
  };
  const fix = { lat: 31.2989, lon: 120, datum: "Gcj02", source: "Gps", accuracy_m: 8, at: AT + 60000, mock: false };
  const stageRule = (stage, days, max) => ({
    stage,
    no_activity_days: days,
    max_stage_days: max,
    remind_days_before: 1,
    escalate_after_days: 3,
  });
  return {
    ids,
    docs: {
      customer: {
        kind: "customer",
        schema: 1,
        id: ids.customer,
        company_name: "南通凯丰注塑有限责任公司",
        contacts: [{ name: "陈静", title: "采购经理", phones: ["13912345678"], email: null }],
        phones: ["0513-8123 4567"],
        address: "南通市崇川区工农路 88 号",
        location: { lat: 32, lon: 120.8641, datum: "Wgs84", source: "Manual", accuracy_m: null, at: null, mock: false },
        tags: ["注塑", "重点"],
        // credit_code left out: an absent optional field reads as none.
        merged_into: null,
        provenance,
      },
      lead_card: {
        kind: "lead_card",
        schema: 1,
        id: ids.lead_card,
        raw_payload: "BEGIN:VCARD\nVERSION:3.0\nFN:陈静\nORG:凯丰注塑\nTEL:13912345678\nEND:VCARD",
        format: "vcard",
        name: "陈静",
        company: "凯丰注塑",
        title: null,
        phones: ["13912345678"],
        emails: ["chen@kaifeng.example"],
        address: null,
        url: null,
        source_event: "CHINAPLAS 2026",
        customer_id: ids.customer,
        provenance,
      },
      opportunity: {
        kind: "opportunity",
        schema: 1,
        id: ids.opportunity,
        customer_id: ids.customer,
        owner: "rep-chen",
        title: "二号车间 280 吨注塑机",
        stage: "NeedsConfirmed",
        stage_entered_at: AT + 1000,
        stage_history: [
          { from: null, to: "FirstContact", at: AT, by: device, note: null },
          { from: "FirstContact", to: "NeedsConfirmed", at: AT + 1000, by: device, note: "技术交流会" },
        ],
        amount: { minor_units: 12800000, currency: "CNY" },
        expected_close_at: AT + 30 * 86400000,
        next_action_due_at: null,
        evidence: [
          { sha256: HASH("a"), kind: "TechnicalDocument", name: "规格书.pdf", added_at: AT + 900, added_by: device },
        ],
        provenance,
      },
      visit: {
        kind: "visit",
        schema: 1,
        id: ids.visit,
        customer_id: ids.customer,
        opportunity_id: ids.opportunity,
        planned_at: AT,
        started_at: AT + 60000,
        ended_at: null,
        fixes: [fix],
        photos: [{ sha256: HASH("b"), thumbnail_sha256: HASH("c"), taken_at: AT + 120000, on_site: true, flags: [] }],
        notes: "客户要求下周报价",
        next_step: null,
        on_site: true,
        flags: [{ code: "no_exif", detail: "the photo has no EXIF block" }],
        provenance,
      },
      service_slip: {
        kind: "service_slip",
        schema: 1,
        id: ids.service_slip,
        visit_id: ids.visit,
        items: [
          { description: "保养", quantity: 2, unit: "台" },
          { description: "调试", quantity: 1.5, unit: "hours" },
        ],
        notes: "",
        signer_name: null,
        signature_png_sha256: null,
        content_sha256: null,
        device_signature: null,
        signed_at: null,
        provenance,
      },
      team_rules: {
        kind: "team_rules",
        schema: 1,
        id: ids.team_rules,
        geofence_radius_m: 250,
        geofence_mode: "Hard",
        stage_rules: [
          stageRule("FirstContact", 5, 5),
          stageRule("NeedsConfirmed", 7, 10),
          stageRule("ProposalSubmitted", 8, 8),
          stageRule("Negotiation", 10, 15),
          stageRule("ContractSigning", 3, 3),
        ],
        stage_evidence: [{ stage: "ProposalSubmitted", required: ["Quote"] }],
        alert_grace_hours: 12,
        required_customer_fields: ["address"],
        dedup_same_name: 0.85,
        dedup_possible_name: 0.6,
        provenance,
      },
    },
  };
}

function loadState(dir, url, dictionaryFile) {
  const state = JSON.parse(fs.readFileSync(path.join(dir, "state.json"), "utf8"));
  state.url = url;
  state.dictionary = fs.readFileSync(dictionaryFile);
  return state;
}

async function create(url, code, dir, dictionaryFile) {
  const enrolled = await enroll(url, code);
  const device = Uint8Array.from(Buffer.from(enrolled.device_id, "hex"));
  const state = { url, token: enrolled.token, dictionary: fs.readFileSync(dictionaryFile) };
  const { ids, docs } = records(device);
  const changes = [];
  for (const [kind, record] of Object.entries(docs)) {
    const doc = Automerge.from(record, { actor: enrolled.device_id });
    fs.writeFileSync(path.join(dir, `${kind}.automerge`), Automerge.save(doc));
    for (const bytes of Automerge.getAllChanges(doc)) changes.push({ docId: ids[kind], bytes });
  }
  await push(state, changes);
  fs.writeFileSync(path.join(dir, "state.json"), JSON.stringify({ token: enrolled.token, device_id: enrolled.device_id }));
  const printable = Object.fromEntries(Object.entries(ids).map(([k, v]) => [k, hyphenated(v)]));
  console.log(JSON.stringify({ device_id: enrolled.device_id, ids: printable, pushed: changes.length }));
}

async function edit(url, dir, dictionaryFile) {
  const state = loadState(dir, url, dictionaryFile);
  const changes = [];
  const change = (kind, fn) => {
    const before = Automerge.load(fs.readFileSync(path.join(dir, `${kind}.automerge`)), { actor: state.device_id });
    const after = Automerge.change(before, fn);
    const docId = Uint8Array.from(before.id);
    for (const bytes of Automerge.getChanges(before, after)) changes.push({ docId, bytes });
  };
  // Text edited in place, a list appended to, a number set: the usual ways.
  change("customer", (d) => {
    Automerge.splice(d, ["company_name"], 4, 2, "");
    d.phones.push("0513-8123 4568");
  });
  change("visit", (d) => {
    Automerge.splice(d, ["notes"], d.notes.length, 0, "，带样品");
  });
  change("service_slip", (d) => {
    d.items[0].quantity = 3;
    d.items.push({ description: "更换滤芯", quantity: 4, unit: "件" });
  });
  await push(state, changes);
  console.log(JSON.stringify({ pushed: changes.length }));
}

const [command, ...args] = process.argv.slice(2);
try {
  if (command === "create") await create(...args);
  else if (command === "edit") await edit(...args);
  else throw new Error(`unknown command ${command}`);
} catch (e) {
  console.error(`foreign_writer: ${e.stack ?? e}`);
  process.exit(1);
}
