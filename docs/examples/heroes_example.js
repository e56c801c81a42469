'use strict';
// The built-in heroes from Node.js: a watch, create, list with a filter,
// update with a mask, get, delete, what the watch saw, and one error code
// with its details (errorDetails).
// Run `make tools` first. PROTOMODEL_TARGET picks the server
// (default localhost:50051); PROTOMODEL_TOKEN, PROTOMODEL_TLS and
// PROTOMODEL_TLS_CA_FILE (and, for mTLS, PROTOMODEL_CLIENT_CERT_FILE and
// PROTOMODEL_CLIENT_KEY_FILE) how to reach it, as for the C++ client and the
// CLI.
const { connect, optionsFromEnv, call, newRequestId, errorDetails, status } = require('../../client/node');

async function main() {
  const target = process.env.PROTOMODEL_TARGET || 'localhost:50051';
  const { heroes } = connect(target, optionsFromEnv());
  const service = heroes.HeroService;
  // A watch holds its stream for as long as it lasts: on clients (and so a
  // connection) of its own, it never keeps other calls waiting.
  const watcher = connect(target, optionsFromEnv()).heroes.HeroService;
  const events = [];
  let removed;
  const gone = new Promise((resolve) => { removed = resolve; });
  let synced;
  const ready = new Promise((resolve) => { synced = resolve; });
  const watch = watcher.WatchHeroes({ filter: 'name = "Dead*"' });
  watch.on('data', (event) => {
    // SYNCED first: every change from here on will be sent. Each event's
    // resume_token restarts a watch just after it.
    if (event.type === 'CHANGE_TYPE_SYNCED') return synced();
    events.push(`${event.type.replace('CHANGE_TYPE_', '')} ${event.hero.id} ${event.hero.name || ''}`.trim());
    if (event.type === 'CHANGE_TYPE_REMOVED') removed();
  });
  watch.on('error', () => {});  // the cancel below ends it
  await ready;

  const hero = await call(service, 'CreateHero', {
    hero: { name: 'Deadpond', secret_name: 'Dive Wilson' },
    request_id: newRequestId(),
  });
  console.log('created', hero.id, hero.name);

  const page = await call(service, 'ListHeroes', { filter: 'name = "Dead*"' });
  console.log('listed', page.heroes.map((h) => h.name));

  const updated = await call(service, 'UpdateHero', {
    hero: { id: hero.id, age: 30 },
    update_mask: { paths: ['age'] },
  });
  console.log('updated age to', updated.age);

  await call(service, 'DeleteHero', { id: hero.id });
  await gone;
  watch.cancel();
  watcher.close();
  console.log('watched', events);
  try {
    await call(service, 'GetHero', { id: hero.id });
  } catch (error) {
    console.log('after delete:', error.code === status.NOT_FOUND ? 'NOT_FOUND' : error.code,
      error.details);
    // The google.rpc.Status in the grpc-status-details-bin trailer: here
    // ErrorInfo (reason RESOURCE_NOT_FOUND) and ResourceInfo (which hero).
    const details = errorDetails(error);
    if (details) {
      console.log('  reason:', details.errorInfo.domain, details.errorInfo.reason);
      if (details.resourceInfo) {
        console.log('  resource:', details.resourceInfo.resource_type,
          details.resourceInfo.resource_name);
      }
    }
  }
  service.close();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
