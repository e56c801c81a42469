'use strict';
// The built-in heroes from Node.js: create, list with a filter, update with a
// mask, get, delete, and one error code with its details (errorDetails).
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
