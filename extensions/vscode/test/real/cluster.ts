// The real-editor suite's workloads on the local cluster's real node
// (docs/cluster.md): a namespace with Deployments api, orders and echo, and
// Services orders and echo. Pods tolerate the real node's taint and are
// pinned to it (the cluster also has kwok nodes where nothing runs), and use
// only the locally loaded busybox image.

import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The target's environment variable, the pod-only file and its text. */
export const POD_GREETING = "hello-from-the-vscode-pod";
export const POD_FILE = "/app/data/pod-only.txt";
export const POD_FILE_TEXT = "this file lives only in the pod";
export const ORDERS_PAGE = "orders-service-page";

export interface ClusterInfo {
  repo: string;
  kubeconfig: string;
  kubectl: string;
  node: string;
  taint: string;
  busybox: string;
  agentImage: string;
}

function envFile(p: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(p, "utf8").split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

/** Reads the local cluster's state (`make cluster-up`) and the images' references (`make images`). */
export function clusterInfo(repo: string): ClusterInfo {
  const state = path.join(repo, ".cache/cluster/state");
  const env = envFile(path.join(state, "cluster.env"));
  if (!env.NODE) throw new Error("the local cluster has no real node (docs/cluster.md); start it as root with `make cluster-up`");
  const ref = (name: string): string => readFileSync(path.join(repo, ".cache/images", `${name}.ref`), "utf8").trim();
  return {
    repo,
    kubeconfig: env.ADMIN_KUBECONFIG ?? path.join(state, "admin.kubeconfig"),
    kubectl: path.join(repo, ".cache/cluster/bin/kubectl"),
    node: env.NODE,
    taint: env.NODE_TAINT ?? "mirrord-ls.dev/real-node",
    busybox: ref("busybox"),
    agentImage: ref("mirrord-agent"),
  };
}

function deployment(c: ClusterInfo, ns: string, name: string, script: string, port: number): object {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: ns },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          nodeSelector: { "kubernetes.io/hostname": c.node },
          tolerations: [{ key: c.taint, operator: "Exists", effect: "NoSchedule" }],
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name,
              image: c.busybox,
              imagePullPolicy: "Never",
              command: ["sh", "-c", script],
              env: [
                { name: "APP_GREETING", value: POD_GREETING },
                { name: "POD_FILE_TEXT", value: POD_FILE_TEXT },
              ],
              ports: [{ containerPort: port }],
              readinessProbe: { tcpSocket: { port }, periodSeconds: 1 },
            },
          ],
        },
      },
    },
  };
}

function service(ns: string, name: string, port: number, targetPort: number): object {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: ns },
    spec: { selector: { app: name }, ports: [{ port, targetPort }] },
  };
}

const httpScript = (page: string): string => `set -e
mkdir -p /app/data /www
echo "$POD_FILE_TEXT" > ${POD_FILE}
echo "${page}" > /www/index.html
exec httpd -f -p 8080 -h /www`;

export class TestNamespace {
  private constructor(
    readonly c: ClusterInfo,
    readonly name: string,
  ) {}

  /** Creates the namespace and its workloads and waits until they are ready. */
  static async create(c: ClusterInfo): Promise<TestNamespace> {
    const ns = new TestNamespace(c, `vscode-real-${randomBytes(3).toString("hex")}`);
    const items = [
      { apiVersion: "v1", kind: "Namespace", metadata: { name: ns.name, labels: { "mirrord-ls-test": "true" } } },
      deployment(c, ns.name, "api", httpScript("api-page"), 8080),
      deployment(c, ns.name, "orders", httpScript(ORDERS_PAGE), 8080),
      service(ns.name, "orders", 80, 8080),
      deployment(c, ns.name, "echo", "exec nc -ll -p 9000 -e cat", 9000),
      service(ns.name, "echo", 9000, 9000),
    ];
    try {
      await ns.kubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items }));
      await ns.kubectl(["-n", ns.name, "wait", "--for=condition=Available", "deployment", "--all", "--timeout=180s"]);
    } catch (err) {
      await ns.delete();
      throw err;
    }
    return ns;
  }

  async kubectl(args: string[], stdin?: string): Promise<string> {
    const child = run(this.c.kubectl, ["--kubeconfig", this.c.kubeconfig, ...args], { timeout: 240_000, maxBuffer: 16 << 20 });
    if (stdin !== undefined) {
      child.child.stdin?.end(stdin);
    }
    try {
      return (await child).stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`kubectl ${args.join(" ")}: ${e.stderr ?? e.message}`, { cause: err });
    }
  }

  /** Pods of the namespace whose name starts with prefix. */
  async pods(prefix: string): Promise<string[]> {
    const out = await this.kubectl(["-n", this.name, "get", "pods", "-o", "jsonpath={.items[*].metadata.name}"]);
    return out.split(/\s+/).filter((n) => n.startsWith(prefix));
  }

  /** Deletes the namespace without waiting, synchronously (for signal handlers). */
  deleteNow(): void {
    spawnSync(this.c.kubectl, ["--kubeconfig", this.c.kubeconfig, "delete", "namespace", this.name, "--wait=false", "--ignore-not-found"], { timeout: 20_000 });
  }

  async delete(): Promise<void> {
    await this.kubectl(["delete", "namespace", this.name, "--wait=false", "--grace-period=0", "--ignore-not-found"]).catch(() => undefined);
  }
}
