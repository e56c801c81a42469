'use strict';
// The Node.js document binding (client/node/document.js) with real Yjs,
// against two replicas of the server on one database (tests/with_server.sh
// with PROTOMODEL_TEST_REPLICAS=2): concurrent editors converge through the
// server, a late joiner and an editor on the other replica converge, and
// compaction and replacement keep the document what it was.
const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');

const clientDir = path.join(__dirname, '..', 'client', 'node');
const Y = require(path.join(clientDir, 'node_modules', 'yjs'));
const { connect, call, newRequestId } = require(clientDir);
const { bindDocument } = require(path.join(clientDir, 'document.js'));

const near = connect(process.env.PROTOMODEL_TARGET).grimoire;
const far = connect(process.env.PROTOMODEL_TARGET_REPLICA || process.env.PROTOMODEL_TARGET).grimoire;

async function newConversation() {
  const user = await call(near.UserService, 'CreateUser', {
    user: { email: `yjs-${newRequestId()}@example.com`, display_name: 'Yjs' },
    request_id: newRequestId(),
  });
  const room = await call(near.ClassService, 'CreateClass', {
    class: { name: 'Yjs', owner_id: user.id }, request_id: newRequestId(),
  });
  const conversation = await call(near.ConversationService, 'CreateConversation', {
    conversation: { class_id: room.id, owner_id: user.id }, request_id: newRequestId(),
  });
  return conversation.id;
}

// A doc bound to conversation `id` through `grimoire`.
async function editor(grimoire, id, options = {}) {
  const doc = new Y.Doc();
  const errors = [];
  const bound = await bindDocument(grimoire.ConversationService, {
    resource: 'Conversation', id, doc, onError: (error) => errors.push(error), ...options,
  });
  return { doc, bound, errors, text: doc.getText('t') };
}

// Waits until every editor's text is `expected` (a function of the texts
// for when the content is not known in advance).
async function converged(editors, seconds = 20) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const texts = editors.map((e) => e.text.toString());
    if (texts.every((t) => t === texts[0])) return texts[0];
    if (Date.now() > deadline) {
      assert.fail(`no convergence: ${JSON.stringify(editors.map((e) => ({
        length: e.text.toString().length, seq: e.bound.seq, compacted: e.bound.compactedSeq,
        errors: e.errors.map((error) => error.message),
      })))}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function closeAll(editors) {
  for (const e of editors) {
    await e.bound.flush();
    await e.bound.close();
    assert.deepStrictEqual(e.errors, []);
  }
}

test('concurrent editors on two replicas converge through the server', async () => {
  const id = await newConversation();
  const a = await editor(near, id, { compactAfter: 1000 });
  const b = await editor(far, id, { compactAfter: 1000 });
  for (let i = 0; i < 100; ++i) {
    a.text.insert(0, `a${i} `);
    b.text.insert(b.text.length, `b${i} `);
  }
  const text = await converged([a, b]);
  for (let i = 0; i < 100; ++i) {
    assert.ok(text.includes(`a${i} `) && text.includes(`b${i} `), `lost an edit ${i}`);
  }
  await closeAll([a, b]);
});

test('a late joiner converges, and compaction keeps the document identical', async () => {
  const id = await newConversation();
  // Compacting every 10 updates, with two editors racing to compact.
  const a = await editor(near, id, { compactAfter: 10 });
  const b = await editor(far, id, { compactAfter: 10 });
  for (let i = 0; i < 60; ++i) {
    a.text.insert(a.text.length, `${i},`);
    if (i % 3 === 0) b.text.insert(0, `[${i}]`);
    if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await a.bound.flush();
  await b.bound.flush();
  const text = await converged([a, b]);
  await a.bound.compact();
  const stored = await call(near.ConversationService, 'GetConversation', { id });
  assert.ok(Number(stored.compacted_seq) > 0, 'compacted');
  assert.ok(Number(stored.update_seq) >= Number(stored.compacted_seq));

  // The stored state plus the updates after it are the document.
  const fresh = new Y.Doc();
  Y.applyUpdate(fresh, new Uint8Array(stored.crdt_state));
  const rest = await call(near.ConversationService, 'ListConversationUpdates', {
    conversation_id: id, after_seq: stored.compacted_seq, page_size: 1000,
  });
  for (const update of rest.updates || []) Y.applyUpdate(fresh, new Uint8Array(update.update));
  assert.strictEqual(fresh.getText('t').toString(), text);

  // A late joiner on the other replica loads state + updates and goes live.
  const late = await editor(far, id);
  assert.strictEqual(late.text.toString(), text);
  a.text.insert(0, 'after the late joiner: ');
  await converged([a, b, late]);
  assert.ok(late.text.toString().startsWith('after the late joiner: '));
  await closeAll([a, b, late]);
});

test('a replaced document is reloaded by its editors, who go on editing', async () => {
  const id = await newConversation();
  const a = await editor(near, id);
  const b = await editor(far, id);
  a.text.insert(0, 'before ');
  await a.bound.flush();
  await converged([a, b]);
  // Someone writes the whole state (as the app once did), with the etag.
  const read = await call(near.ConversationService, 'GetConversation', { id });
  await call(near.ConversationService, 'UpdateConversation', {
    conversation: { id, etag: read.etag, crdt_state: Buffer.from(Y.encodeStateAsUpdate(a.doc)) },
    update_mask: { paths: ['crdt_state'] },
  });
  b.text.insert(b.text.length, 'after');
  await b.bound.flush();
  const text = await converged([a, b]);
  assert.strictEqual(text, 'before after');
  await closeAll([a, b]);
});

test.after(() => {
  for (const client of [...Object.values(near), ...Object.values(far)]) client.close();
});
