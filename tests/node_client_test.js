'use strict';
// The Node.js client (client/node) against a live server: PROTOMODEL_TARGET,
// and PROTOMODEL_TLS, PROTOMODEL_TLS_CA_FILE, the client certificate and
// PROTOMODEL_TOKEN when tests/with_server.sh serves mTLS and tokens
// (PROTOMODEL_TEST_SECURE=1); and the AIP-193 details of its errors, read
// with errorDetails().
const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');

const { connect, optionsFromEnv, call, newRequestId, errorDetails, status } =
  require(path.join(__dirname, '..', 'client', 'node'));

const secure = process.env.PROTOMODEL_TEST_SECURE === '1';
const skipUnlessSecure =
  secure ? {} : { skip: 'needs PROTOMODEL_TEST_SECURE=1: a server with TLS and tokens' };

// The environment's settings, with `token` in place of PROTOMODEL_TOKEN.
const withToken = (token) => connect(process.env.PROTOMODEL_TARGET, { ...optionsFromEnv(), token });

test('a hero lives through create, list, update, get and delete', async () => {
  const { heroes } = connect(process.env.PROTOMODEL_TARGET, optionsFromEnv());
  const service = heroes.HeroService;
  const name = `Node-${process.pid}`;
  const hero = await call(service, 'CreateHero', {
    hero: { name, secret_name: 'Event Loop' },
    request_id: newRequestId(),
  });
  assert.ok(Number(hero.id) > 0);

  const page = await call(service, 'ListHeroes', { filter: `name = "${name}"` });
  assert.deepStrictEqual(page.heroes.map((h) => h.id), [hero.id]);

  const updated = await call(service, 'UpdateHero', {
    hero: { id: hero.id, age: 12, secret_name: 'not written' },
    update_mask: { paths: ['age'] },
  });
  assert.strictEqual(updated.age, 12);
  assert.strictEqual(updated.secret_name, 'Event Loop');

  const got = await call(service, 'GetHero', { id: hero.id, view: 'FULL' });
  assert.strictEqual(got.age, 12);

  await call(service, 'DeleteHero', { id: hero.id });
  await assert.rejects(call(service, 'GetHero', { id: hero.id }),
    (error) => error.code === status.NOT_FOUND);
  service.close();
});

test('a missing required field is INVALID_ARGUMENT naming it', async () => {
  const { heroes } = connect(process.env.PROTOMODEL_TARGET, optionsFromEnv());
  await assert.rejects(call(heroes.HeroService, 'CreateHero', { hero: { name: 'x' } }),
    (error) => error.code === status.INVALID_ARGUMENT &&
      error.details === 'hero.secret_name is required');
  heroes.HeroService.close();
});

// The error a call fails with, checked for what every error of the service
// carries: a google.rpc.Status with the call's code and message, and an
// ErrorInfo of the domain protomodel. Returns errorDetails() of it.
async function detailsOf(promise, code) {
  let error;
  await assert.rejects(promise, (e) => {
    error = e;
    return true;
  });
  assert.strictEqual(error.code, code, error.details);
  const details = errorDetails(error);
  assert.ok(details, 'no grpc-status-details-bin trailer');
  assert.strictEqual(details.code, code);
  assert.strictEqual(details.message, error.details);
  assert.strictEqual(details.errorInfo.domain, 'protomodel');
  assert.deepStrictEqual(details.others, []);
  return details;
}

// INVALID_ARGUMENT's details: the reason, and the field in ErrorInfo's
// metadata and in BadRequest's one field violation.
function assertBadField(details, field, reason) {
  assert.strictEqual(details.errorInfo.reason, reason);
  assert.deepStrictEqual(details.errorInfo.metadata, { field });
  assert.deepStrictEqual(details.badRequest.field_violations.map((v) => v.field), [field]);
  assert.strictEqual(details.badRequest.field_violations[0].description, details.message);
  assert.strictEqual(details.resourceInfo, undefined);
  assert.strictEqual(details.retryInfo, undefined);
}

test('details: a missing required field is REQUIRED_FIELD naming its path', async () => {
  const { heroes } = connect(process.env.PROTOMODEL_TARGET, optionsFromEnv());
  const details = await detailsOf(call(heroes.HeroService, 'CreateHero', {
    hero: { name: 'Deadpond' }, request_id: newRequestId(),
  }), status.INVALID_ARGUMENT);
  assert.strictEqual(details.message, 'hero.secret_name is required');
  assertBadField(details, 'hero.secret_name', 'REQUIRED_FIELD');
  heroes.HeroService.close();
});

test('details: a bad filter is INVALID_FILTER naming filter', async () => {
  const { heroes } = connect(process.env.PROTOMODEL_TARGET, optionsFromEnv());
  for (const filter of ['name = ', 'secret = "x"']) {
    const details = await detailsOf(call(heroes.HeroService, 'ListHeroes', { filter }),
      status.INVALID_ARGUMENT);
    assertBadField(details, 'filter', 'INVALID_FILTER');
  }
  heroes.HeroService.close();
});

test('details: a missing hero is RESOURCE_NOT_FOUND naming it', async () => {
  const { heroes } = connect(process.env.PROTOMODEL_TARGET, optionsFromEnv());
  const hero = await call(heroes.HeroService, 'CreateHero', {
    hero: { name: 'Node-gone', secret_name: 'x' }, request_id: newRequestId(),
  });
  await call(heroes.HeroService, 'DeleteHero', { id: hero.id });
  const details = await detailsOf(call(heroes.HeroService, 'GetHero', { id: hero.id }),
    status.NOT_FOUND);
  assert.strictEqual(details.errorInfo.reason, 'RESOURCE_NOT_FOUND');
  assert.strictEqual(details.resourceInfo.resource_type, 'heroes.v1.Hero');
  assert.strictEqual(details.resourceInfo.resource_name, hero.id);
  assert.strictEqual(details.badRequest, undefined);
  heroes.HeroService.close();
});

test('details: a unique clash is RESOURCE_ALREADY_EXISTS naming field and value', async () => {
  const { grimoire } = connect(process.env.PROTOMODEL_TARGET, optionsFromEnv());
  const email = `${newRequestId()}@example.com`;
  await call(grimoire.UserService, 'CreateUser', { user: { email, display_name: 'Ada' } });
  const details = await detailsOf(call(grimoire.UserService, 'CreateUser', {
    user: { email, display_name: 'Ada again' },
  }), status.ALREADY_EXISTS);
  assert.strictEqual(details.errorInfo.reason, 'RESOURCE_ALREADY_EXISTS');
  assert.strictEqual(details.resourceInfo.resource_type, 'grimoire.v1.User');
  assert.strictEqual(details.resourceInfo.resource_name, `email=${email}`);
  grimoire.UserService.close();
});

test('details: an error without the trailer has none', () => {
  assert.strictEqual(errorDetails(new Error('not a call')), null);
});

// A token the service refuses comes with its reason; a handshake without the
// client certificate never reaches the server, so that error carries no
// details (docs/API.md, "Error details").
const refusedWithoutDetails = (code) => (error) => {
  assert.strictEqual(error.code, code, error.details);
  assert.strictEqual(errorDetails(error), null);
  return true;
};
const refusedFor = (code, reason) => (error) => {
  assert.strictEqual(error.code, code, error.details);
  const details = errorDetails(error);
  assert.strictEqual(details.errorInfo.reason, reason);
  assert.strictEqual(details.errorInfo.domain, 'protomodel');
  return true;
};

test('a call without a token is UNAUTHENTICATED', skipUnlessSecure, async () => {
  const { heroes } = withToken(undefined);
  await assert.rejects(call(heroes.HeroService, 'ListHeroes', {}),
    refusedFor(status.UNAUTHENTICATED, 'TOKEN_MISSING'));
  heroes.HeroService.close();
});

test('an unknown token is UNAUTHENTICATED', skipUnlessSecure, async () => {
  const { heroes } = withToken('not-a-token');
  await assert.rejects(call(heroes.HeroService, 'ListHeroes', {}),
    refusedFor(status.UNAUTHENTICATED, 'TOKEN_UNKNOWN'));
  heroes.HeroService.close();
});

test('without its client certificate the server refuses: UNAVAILABLE', skipUnlessSecure, async () => {
  const { heroes } = connect(process.env.PROTOMODEL_TARGET,
    { ...optionsFromEnv(), certFile: undefined, keyFile: undefined });
  await assert.rejects(call(heroes.HeroService, 'ListHeroes', {}),
    refusedWithoutDetails(status.UNAVAILABLE));
  heroes.HeroService.close();
});

test('a CA and a client certificate mean TLS without tls: true', skipUnlessSecure, async () => {
  const { heroes } = connect(process.env.PROTOMODEL_TARGET, { ...optionsFromEnv(), tls: false });
  await call(heroes.HeroService, 'ListHeroes', {});
  heroes.HeroService.close();
});

test('a client certificate without its key is refused before connecting', skipUnlessSecure, () => {
  assert.throws(() => connect(process.env.PROTOMODEL_TARGET,
    { ...optionsFromEnv(), keyFile: undefined }), /certFile and keyFile/);
});

test('a reader token lists but cannot create: PERMISSION_DENIED', skipUnlessSecure, async () => {
  const { heroes } = withToken(process.env.PROTOMODEL_TEST_SECURE_READER_TOKEN);
  await call(heroes.HeroService, 'ListHeroes', {});
  await assert.rejects(call(heroes.HeroService, 'CreateHero', {
    hero: { name: 'Node-reader', secret_name: 'x' },
    request_id: newRequestId(),
  }), refusedFor(status.PERMISSION_DENIED, 'METHOD_NOT_GRANTED'));
  heroes.HeroService.close();
});
