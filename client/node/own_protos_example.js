'use strict';
// Calls a server of your own protos (protomodel-server --descriptor_set=...)
// from the .proto files, loaded at run time with connectTo(): no generated
// code. With no method it lists the services and methods the files define;
// with one it calls it with the request given as JSON, with field names as in
// the proto (request_id, update_mask), int64 as strings and messages as
// objects (a FieldMask is { "paths": [...] }), and prints the response. A
// Create* whose request has a request_id and none given gets a fresh one.
//   node client/node/own_protos_example.js -I DIR... FILE.proto... [SERVICE/METHOD [JSON]]
//   node client/node/own_protos_example.js -I my_protos library/v1/library.proto \
//     library.v1.BookService/CreateBook '{"book":{"title":"Dune","isbn":"9780441013593"}}'
// The server and how to reach it come from the environment, as for
// example.js: PROTOMODEL_TARGET (default localhost:50051), PROTOMODEL_TOKEN,
// PROTOMODEL_TLS, PROTOMODEL_TLS_CA_FILE, PROTOMODEL_CLIENT_CERT_FILE and
// PROTOMODEL_CLIENT_KEY_FILE. A failed call prints its code, message and
// details (errorDetails) and exits 1.
const { connectTo, call, newRequestId, errorDetails, status } = require('./index');

const usage = 'usage: own_protos_example.js -I DIR... FILE.proto... [SERVICE/METHOD [JSON]]';

function parse(argv) {
  const includeDirs = [];
  const files = [];
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-I' || arg === '--proto_path') {
      if (i + 1 >= argv.length) throw new Error(usage);
      includeDirs.push(argv[++i]);
    } else if (arg.startsWith('-I')) {
      includeDirs.push(arg.slice(2));
    } else if (arg.startsWith('--proto_path=')) {
      includeDirs.push(arg.slice('--proto_path='.length));
    } else if (arg.endsWith('.proto') && rest.length === 0) {
      files.push(arg);
    } else {
      rest.push(arg);
    }
  }
  if (files.length === 0 || rest.length > 2) throw new Error(usage);
  return { includeDirs, files, method: rest[0], json: rest[1] || '{}' };
}

async function main() {
  const { includeDirs, files, method, json } = parse(process.argv.slice(2));
  const clients = connectTo(process.env.PROTOMODEL_TARGET, { files, includeDirs });
  try {
    if (!method) {
      for (const client of Object.values(clients)) {
        for (const definition of Object.values(client.constructor.service)) {
          console.log(definition.path.slice(1));
        }
      }
      return;
    }
    const slash = method.lastIndexOf('/');
    const client = clients[method.slice(0, slash)];
    const definition = client && client.constructor.service[method.slice(slash + 1)];
    if (!definition) {
      throw new Error(`${method} is not among the methods of ${files.join(', ')}`);
    }
    const request = JSON.parse(json);
    const hasRequestId = definition.requestType.type.field.some((f) => f.name === 'request_id');
    if (method.slice(slash + 1).startsWith('Create') && hasRequestId && !request.request_id) {
      request.request_id = newRequestId(); // the channel's retries of this create are then safe
    }
    try {
      console.log(JSON.stringify(await call(client, method.slice(slash + 1), request), null, 2));
    } catch (error) {
      if (error.code === undefined) throw error;
      const code = Object.keys(status).find((key) => status[key] === error.code);
      console.error(`${code}: ${error.details}`);
      const details = errorDetails(error);
      if (details) console.error(JSON.stringify(details, null, 2));
      process.exitCode = 1;
    }
  } finally {
    for (const client of Object.values(clients)) client.close();
  }
}

main().catch((error) => {
  console.error(error.message || error);
  process.exit(1);
});
