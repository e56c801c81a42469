'use strict';
// Renders each kustomize overlay of deploy/k8s with `kubectl kustomize`,
// validates every object offline against the Kubernetes schemas
// (kubernetes-models), and checks the facts that matter.
const test = require('node:test');
const assert = require('node:assert');
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const tools = path.join(__dirname, 'tools', 'node_modules');
const YAML = require(path.join(tools, 'yaml'));
const models = {
  'v1/ConfigMap': () => require(path.join(tools, 'kubernetes-models/v1')).ConfigMap,
  'v1/Secret': () => require(path.join(tools, 'kubernetes-models/v1')).Secret,
  'v1/Service': () => require(path.join(tools, 'kubernetes-models/v1')).Service,
  'apps/v1/Deployment': () => require(path.join(tools, 'kubernetes-models/apps/v1')).Deployment,
  'apps/v1/StatefulSet': () => require(path.join(tools, 'kubernetes-models/apps/v1')).StatefulSet,
  'batch/v1/Job': () => require(path.join(tools, 'kubernetes-models/batch/v1')).Job,
  'policy/v1/PodDisruptionBudget': () =>
    require(path.join(tools, 'kubernetes-models/policy/v1')).PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': () =>
    require(path.join(tools, 'kubernetes-models/autoscaling/v2')).HorizontalPodAutoscaler,
};

function kubectl() {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function render(overlay) {
  const dir = path.join(__dirname, '..', 'deploy', 'k8s', 'overlays', overlay);
  const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  const objects = YAML.parseAllDocuments(out).map((doc) => doc.toJSON()).filter(Boolean);
  // kustomize folds long base64 values over lines; the API server's base64
  // decoder skips the newlines, the schema's "byte" format does not.
  for (const object of objects) {
    if (object.kind !== 'Secret' || !object.data) continue;
    for (const key of Object.keys(object.data)) {
      object.data[key] = object.data[key].replace(/\s+/g, '');
    }
  }
  return objects;
}

const find = (objects, kind, name) =>
  objects.find((o) => o.kind === kind && (!name || o.metadata.name === name));

const skip = kubectl() ? false : 'kubectl is not installed: the manifests were not rendered';

for (const overlay of ['dev', 'prod']) {
  test(`${overlay}: every object is valid against the Kubernetes schemas`, { skip }, () => {
    const objects = render(overlay);
    assert.ok(objects.length >= 6);
    for (const object of objects) {
      const model = models[`${object.apiVersion}/${object.kind}`];
      assert.ok(model, `no schema for ${object.apiVersion} ${object.kind}`);
      const Model = model();
      assert.doesNotThrow(() => new Model(object).validate(),
        `${object.kind} ${object.metadata.name}`);
    }
  });

  test(`${overlay}: probes use the health service on the gRPC port`, { skip }, () => {
    const deployment = find(render(overlay), 'Deployment', 'protomodel');
    const container = deployment.spec.template.spec.containers[0];
    const port = container.ports.find((p) => p.name === 'grpc').containerPort;
    assert.strictEqual(container.readinessProbe.grpc.port, port);
    assert.strictEqual(container.livenessProbe.grpc.port, port);
    assert.strictEqual(container.livenessProbe.grpc.service, 'liveness');
    assert.strictEqual(container.readinessProbe.grpc.service, undefined);
  });

  test(`${overlay}: the server runs as non-root on a read-only root`, { skip }, () => {
    const objects = render(overlay);
    for (const kind of ['Deployment', 'Job']) {
      const pod = find(objects, kind).spec.template.spec;
      assert.strictEqual(pod.securityContext.runAsNonRoot, true, kind);
      assert.ok(pod.securityContext.runAsUser > 0, kind);
      assert.strictEqual(pod.containers[0].securityContext.readOnlyRootFilesystem, true, kind);
      assert.strictEqual(pod.containers[0].securityContext.allowPrivilegeEscalation, false, kind);
    }
  });

  test(`${overlay}: the migration Job runs migrate; replicas do not migrate`, { skip }, () => {
    const objects = render(overlay);
    assert.deepStrictEqual(find(objects, 'Job').spec.template.spec.containers[0].args,
      ['migrate']);
    const config = find(objects, 'ConfigMap').data;
    assert.strictEqual(config.PROTOMODEL_MIGRATE, 'false');
  });

  test(`${overlay}: drain fits the grace period; pools fit the database`, { skip }, () => {
    const objects = render(overlay);
    const config = find(objects, 'ConfigMap').data;
    const pod = find(objects, 'Deployment').spec.template.spec;
    assert.ok(pod.terminationGracePeriodSeconds >
      Number(config.PROTOMODEL_SHUTDOWN_GRACE_SECONDS));
    const hpa = find(objects, 'HorizontalPodAutoscaler');
    // pool size x max replicas < PostgreSQL's default max_connections (100).
    assert.ok(hpa.spec.maxReplicas * Number(config.PROTOMODEL_POOL_SIZE) < 100);
    assert.ok(find(objects, 'Deployment').spec.replicas >= 2);
    const service = find(objects, 'Service', 'protomodel');
    assert.strictEqual(service.spec.ports[0].name, 'grpc');
    assert.strictEqual(service.spec.ports[0].appProtocol, 'grpc');
    assert.ok(Number(config.PROTOMODEL_MAX_CONNECTION_AGE_SECONDS) > 0);
  });
}

test('prod: the database URL comes from a Secret that is not inlined', { skip }, () => {
  const objects = render('prod');
  assert.strictEqual(find(objects, 'Secret'), undefined);
  const env = find(objects, 'Deployment').spec.template.spec.containers[0].env;
  const url = env.find((e) => e.name === 'DATABASE_URL');
  assert.strictEqual(url.valueFrom.secretKeyRef.name, 'protomodel-database');
  assert.ok(find(objects, 'Deployment').spec.replicas > 2);
});

test('dev: a PostgreSQL StatefulSet with a volume claim and its Secret', { skip }, () => {
  const objects = render('dev');
  const postgres = find(objects, 'StatefulSet');
  assert.strictEqual(postgres.spec.replicas, 1);
  assert.strictEqual(postgres.spec.volumeClaimTemplates.length, 1);
  assert.ok(objects.some((o) => o.kind === 'Secret' && o.metadata.name.startsWith('protomodel-database')));
});
