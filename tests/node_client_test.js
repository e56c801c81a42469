'use strict';
// The Node.js client (client/node) against a live server: PROTOMODEL_TARGET,
// and PROTOMODEL_TLS, PROTOMODEL_TLS_CA_FILE, the client certificate and
// PROTOMODEL_TOKEN when tests/with_server.sh serves mTLS and tokens
// (PROTOMODEL_TEST_SECURE=1).
const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');

const { connect, optionsFromEnv, call, newRequestId, status } =
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

test('a call without a token is UNAUTHENTICATED', skipUnlessSecure, async () => {
  const { heroes } = withToken(undefined);
  await assert.rejects(call(heroes.HeroService, 'ListHeroes', {}),
    (error) => error.code === status.UNAUTHENTICATED);
  heroes.HeroService.close();
});

test('an unknown token is UNAUTHENTICATED', skipUnlessSecure, async () => {
  const { heroes } = withToken('not-a-token');
  await assert.rejects(call(heroes.HeroService, 'ListHeroes', {}),
    (error) => error.code === status.UNAUTHENTICATED);
  heroes.HeroService.close();
});

test('without its client certificate the server refuses: UNAVAILABLE', skipUnlessSecure, async () => {
  const { heroes } = connect(process.env.PROTOMODEL_TARGET,
    { ...optionsFromEnv(), certFile: undefined, keyFile: undefined });
  await assert.rejects(call(heroes.HeroService, 'ListHeroes', {}),
    (error) => error.code === status.UNAVAILABLE);
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
  }), (error) => error.code === status.PERMISSION_DENIED);
  heroes.HeroService.close();
});
