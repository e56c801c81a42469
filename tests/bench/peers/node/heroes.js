// The Node.js peer `make bench` measures protomodel against: what a polyglot
// team writes by hand for the same three calls, on @grpc/grpc-js and pg
// (node-postgres) with a pool and one named (prepared) statement a call.
// Serves heroes.v1.HeroService (GetHero, CreateHero without request_id,
// ListHeroes' first page) on the hero table of DATABASE_URL:
//   node heroes.js PORT DATABASE_URL PROTO_DIR
// Prints "listening on PORT" once it serves.
'use strict';
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { Pool } = require('pg');

const [port, databaseUrl, protoDir] = process.argv.slice(2);
const definition = protoLoader.loadSync('heroes/v1/heroes.proto', {
  includeDirs: [protoDir],
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
});
const heroes = grpc.loadPackageDefinition(definition).heroes.v1;
const pool = new Pool({ connectionString: databaseUrl, max: 16 });

const columns = 'id, name, secret_name, age, team_id';
function toHero(row) {
  const hero = { id: row.id, name: row.name, secret_name: row.secret_name };
  if (row.age !== null) hero.age = row.age;
  if (row.team_id !== null) hero.team_id = row.team_id;
  return hero;
}
function unavailable(callback) {
  return (err) => callback({ code: grpc.status.UNAVAILABLE, details: err.message });
}

const server = new grpc.Server();
server.addService(heroes.HeroService.service, {
  GetHero(call, callback) {
    pool.query({ name: 'get', text: `SELECT ${columns} FROM hero WHERE id = $1`,
                 values: [call.request.id] })
      .then((result) => {
        if (result.rows.length === 0) {
          callback({ code: grpc.status.NOT_FOUND, details: 'hero not found' });
        } else {
          callback(null, toHero(result.rows[0]));
        }
      }, unavailable(callback));
  },
  CreateHero(call, callback) {
    const hero = call.request.hero || {};
    if (!hero.name) {
      callback({ code: grpc.status.INVALID_ARGUMENT, details: 'hero.name is required' });
      return;
    }
    pool.query({
      name: 'create',
      text: `INSERT INTO hero (name, secret_name, age, team_id) VALUES ($1, $2, $3, $4)
             RETURNING ${columns}`,
      values: [hero.name, hero.secret_name || '', hero.age ?? null, hero.team_id ?? null],
    }).then((result) => callback(null, toHero(result.rows[0])), unavailable(callback));
  },
  ListHeroes(call, callback) {
    const pageSize = call.request.page_size > 0 ? call.request.page_size : 50;
    pool.query({ name: 'list', text: `SELECT ${columns} FROM hero ORDER BY id LIMIT $1`,
                 values: [pageSize] })
      .then((result) => callback(null, { heroes: result.rows.map(toHero) }),
            unavailable(callback));
  },
});
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
  if (err) throw err;
  console.log(`listening on ${bound}`);
});
