'use strict';
// Two terminals editing one conversation's notes, live (a Yjs Y.Text in the
// conversation's crdt_state). In the first:
//   node client/node/document_example.js
// It makes a user, a class and a conversation and prints the command for the
// second terminal:
//   node client/node/document_example.js <conversation id>
// Each line typed in either terminal is added to the notes; both print the
// notes whenever the other's edits arrive. PROTOMODEL_TARGET (and the other
// PROTOMODEL_* variables) say where the server is; point the two terminals
// at different replicas and the edits still meet.
const readline = require('node:readline');
const Y = require('yjs');
const { connect, call, newRequestId } = require('./index');
const { bindDocument } = require('./document');

async function newConversation(grimoire) {
  const suffix = newRequestId().slice(0, 8);
  const user = await call(grimoire.UserService, 'CreateUser', {
    user: { email: `notes-${suffix}@example.com`, display_name: 'Notes' },
    request_id: newRequestId(),
  });
  const room = await call(grimoire.ClassService, 'CreateClass', {
    class: { name: 'Live notes', owner_id: user.id }, request_id: newRequestId(),
  });
  const conversation = await call(grimoire.ConversationService, 'CreateConversation', {
    conversation: { class_id: room.id, owner_id: user.id }, request_id: newRequestId(),
  });
  return conversation.id;
}

async function main() {
  const { grimoire } = connect();
  const id = process.argv[2] || await newConversation(grimoire);
  if (!process.argv[2]) {
    console.log(`in another terminal: node ${process.argv[1]} ${id}`);
  }
  const doc = new Y.Doc();
  const notes = doc.getText('notes');
  notes.observe((event) => {
    if (!event.transaction.local) console.log(`--- notes ---\n${notes.toString()}-------------`);
  });
  const bound = await bindDocument(grimoire.ConversationService, {
    resource: 'Conversation', id, doc, compactAfter: 20,
    onError: (error) => console.error(`${error.code}: ${error.details || error.message}`),
  });
  console.log(`--- notes (seq ${bound.seq}) ---\n${notes.toString()}-------------`);
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) notes.insert(notes.length, `${line}\n`);
  await bound.flush();
  await bound.close();
  for (const client of Object.values(grimoire)) client.close();
}

main().catch((error) => {
  console.error(error.details || error.message);
  process.exit(1);
});
