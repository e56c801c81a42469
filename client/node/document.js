'use strict';
// A Y.Doc bound to a resource's live document (the contract's "Live CRDT
// documents": Append<R>Update, List<R>Updates, Watch<R>Updates,
// Compact<R>), e.g. a conversation's crdt_state:
//
//   const Y = require('yjs');
//   const { connect } = require('protomodel-client');
//   const { bindDocument } = require('protomodel-client/document');
//   const doc = new Y.Doc();
//   const bound = await bindDocument(connect().grimoire.ConversationService,
//     { resource: 'Conversation', id: conversationId, doc });
//   doc.getText('notes').insert(0, 'hello');   // appended to the server
//   ...
//   await bound.close();
//
// Loading applies the stored state, then every update after its
// compacted_seq; from then on the doc's own updates are appended (each with
// a request_id, so retries store it once) and everyone else's arrive through
// the watch, on whichever replica they were made. When the log holds
// `compactAfter` updates past the last compaction, the binding merges the
// state with them (Y.mergeUpdates) and compacts; a compaction someone else
// made first is ABORTED and changes nothing. When the watch ends
// OUT_OF_RANGE (the document was replaced, or compacted past it) the state
// and updates are loaded again and applied: a CRDT merges what it has seen.
// A watch broken by a replica going away is resumed from the last seq.
const Y = require('yjs');
const grpc = require('@grpc/grpc-js');
const crypto = require('node:crypto');

// 'BookReview' -> 'book_review'
const lowerSnake = (name) => name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

// A unary call as a promise.
function unary(client, method, request, seconds) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + seconds * 1000 }, (error, response) => {
      if (error) reject(error);
      else resolve(response);
    });
  });
}

// The remote updates are applied with this origin, so they are not sent
// back.
const REMOTE = Symbol('protomodel remote update');

class BoundDocument {
  constructor(client, { resource, id, doc, stateField, compactAfter, deadlineSeconds, onError }) {
    this.client = client;
    this.resource = resource;
    this.id = id;
    this.doc = doc;
    this.key = `${lowerSnake(resource)}_id`;
    this.stateField = stateField;
    this.compactAfter = compactAfter;
    this.seconds = deadlineSeconds;
    this.onError = onError;
    // What a compaction merges: the state as of compactedSeq, and every
    // update after it that was applied, in seq order.
    this.base = new Uint8Array();
    this.compactedSeq = 0;
    this.log = [];
    this.seq = 0; // the last update applied
    this.appending = new Set();
    this.compacting = null;
    this.closed = false;
    this.deleted = false;
    this.stream = null;
    this.onUpdate = (update, origin) => {
      if (origin !== REMOTE && !this.closed) this.append(update);
    };
  }

  call(verb, request) {
    return unary(this.client, verb, request, this.seconds);
  }

  // The state and the updates after it, applied to the doc; again when a
  // compaction between the two reads merged updates the second wanted.
  async load() {
    for (let attempt = 1; ; ++attempt) {
      try {
        return await this.loadOnce();
      } catch (error) {
        if (error.code !== grpc.status.OUT_OF_RANGE || attempt >= 10) throw error;
      }
    }
  }

  async loadOnce() {
    const got = await this.call(`Get${this.resource}`, { id: this.id });
    const state = got[this.stateField] || Buffer.alloc(0);
    this.base = new Uint8Array(state);
    this.compactedSeq = Number(got.compacted_seq || 0);
    this.log = [];
    this.seq = this.compactedSeq;
    if (state.length > 0) Y.applyUpdate(this.doc, this.base, REMOTE);
    let pageToken = '';
    do {
      const page = await this.call(`List${this.resource}Updates`, {
        [this.key]: this.id, after_seq: this.compactedSeq, page_size: 1000, page_token: pageToken,
      });
      for (const update of page.updates || []) this.apply(update);
      pageToken = page.next_page_token;
    } while (pageToken);
  }

  // Applies one update from the server, in seq order, once.
  apply(update) {
    const seq = Number(update.seq);
    if (seq <= this.seq) return;
    const bytes = new Uint8Array(update.update);
    Y.applyUpdate(this.doc, bytes, REMOTE);
    this.log.push(bytes);
    this.seq = seq;
  }

  // Appends one local update; compacts when the log has grown.
  append(update) {
    const sent = this.call(`Append${this.resource}Update`, {
      [this.key]: this.id, update: Buffer.from(update), request_id: crypto.randomUUID(),
    }).then((stored) => {
      if (Number(stored.seq) - this.compactedSeq >= this.compactAfter) this.compact();
    }, (error) => this.fail(error)).finally(() => this.appending.delete(sent));
    this.appending.add(sent);
  }

  // Merges the state with the updates applied since it and hands it back.
  compact() {
    if (this.compacting || this.closed) return this.compacting;
    const through = this.seq;
    const count = this.log.length;
    if (through <= this.compactedSeq || count === 0) return null;
    const merged = Y.mergeUpdates([this.base, ...this.log].filter((u) => u.length > 0));
    this.compacting = this.call(`Compact${this.resource}`, {
      [this.key]: this.id, through_seq: through, [this.stateField]: Buffer.from(merged),
    }).then(() => {
      this.base = merged;
      this.compactedSeq = through;
      this.log = this.log.slice(count);
    }, async (error) => {
      // Someone compacted first: theirs is the state to merge from now.
      if (error.code === grpc.status.ABORTED) return this.refreshBase();
      return this.fail(error);
    }).finally(() => { this.compacting = null; });
    return this.compacting;
  }

  // The stored state and compacted_seq, after someone else compacted; the
  // updates after it are those the log already holds.
  async refreshBase() {
    const got = await this.call(`Get${this.resource}`, { id: this.id });
    const compacted = Number(got.compacted_seq || 0);
    if (compacted <= this.compactedSeq || compacted > this.seq) return;
    this.log = this.log.slice(compacted - this.compactedSeq);
    this.base = new Uint8Array(got[this.stateField] || Buffer.alloc(0));
    this.compactedSeq = compacted;
  }

  // Watches from the last applied seq; resumes after a break, reloads when
  // the document moved past it.
  watch(backoff = 50) {
    if (this.closed) return;
    const stream = this.client[`Watch${this.resource}Updates`]({
      [this.key]: this.id, after_seq: this.seq,
    });
    this.stream = stream;
    stream.on('data', (update) => this.apply(update));
    stream.on('error', async (error) => {
      if (this.closed || stream !== this.stream) return;
      if (error.code === grpc.status.NOT_FOUND) {
        this.deleted = true;
        return this.fail(error);
      }
      try {
        if (error.code === grpc.status.OUT_OF_RANGE) await this.load();
        else if (error.code !== grpc.status.UNAVAILABLE) return this.fail(error);
      } catch (reloadError) {
        if (reloadError.code !== grpc.status.UNAVAILABLE) return this.fail(reloadError);
      }
      setTimeout(() => this.watch(Math.min(backoff * 2, 1000)), backoff);
    });
  }

  fail(error) {
    if (this.onError) this.onError(error);
  }

  // Stops watching and sending, after the appends under way are answered.
  async close() {
    this.closed = true;
    this.doc.off('update', this.onUpdate);
    if (this.stream) this.stream.cancel();
    await Promise.allSettled([...this.appending, this.compacting].filter(Boolean));
  }

  // Resolves once every local update sent so far is stored.
  async flush() {
    while (this.appending.size > 0) await Promise.allSettled([...this.appending]);
  }
}

// Binds `doc` to the document of the resource `id`, served by `client` (the
// resource's service client, e.g. connect().grimoire.ConversationService):
// loads it, then keeps both in step until close(). Options: resource (the
// message name, 'Conversation'), stateField ('crdt_state'), compactAfter
// (updates between compactions, 100), deadlineSeconds (per call, 30),
// onError (called with errors it cannot mend: the document deleted is
// NOT_FOUND). Returns a BoundDocument: seq, compactedSeq, flush(), compact(),
// close().
async function bindDocument(client, {
  resource, id, doc, stateField = 'crdt_state', compactAfter = 100, deadlineSeconds = 30,
  onError,
}) {
  if (!resource || !id || !doc) throw new Error('bindDocument needs resource, id and doc');
  const bound = new BoundDocument(client, {
    resource, id, doc, stateField, compactAfter, deadlineSeconds, onError,
  });
  await bound.load();
  doc.on('update', bound.onUpdate);
  bound.watch();
  return bound;
}

module.exports = { bindDocument };
