// Plays Argo's part for a translated workflow, on this machine, one pod at a time: DAG order,
// `withParam` fan-out, parameter and artifact passing, S3 keys as directories. The containers are
// the real entrypoint; only the orchestration is played, so a unit test can check what the
// translation asks Argo to do without a cluster (the real thing: `make conformance-argo`).
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Workflow } from "@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/Workflow";
import type { IDAGTask } from "@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/DAGTask";
import { executionOrder, workflowOutputsTask } from "../../operators/pipeline/argo/translate.ts";
import { entrypoint } from "../../operators/pipeline/entrypoint/main.ts";

type Template = NonNullable<Workflow["spec"]["templates"]>[number];

interface Result { id: string; params: Record<string, string>; artifacts: Record<string, string> }

/** Replaces every `{{name}}` the scope knows; an unknown one is an error, as in Argo. */
function substitute(text: string, scope: Map<string, string>): string {
  return text.replace(/\{\{([^}]+)\}\}/g, (_, name: string) => {
    const value = scope.get(name.trim());
    if (value === undefined) throw new Error(`playArgo: cannot resolve {{${name}}}`);
    return value;
  });
}

export class ArgoPlayer {
  private readonly templates: Map<string, Template>;
  private readonly root: string;
  private readonly globals: Map<string, string>;
  private pods = 0;
  readonly ran: string[] = [];

  constructor(workflow: Workflow, root: string) {
    this.templates = new Map((workflow.spec.templates ?? []).map((t) => [t.name ?? "", t]));
    this.root = root;
    this.globals = new Map([["workflow.name", workflow.metadata?.name ?? "wf"], ["workflow.namespace", workflow.metadata?.namespace ?? "default"], ["workflow.parameters.job", String(workflow.spec.arguments?.parameters?.[0]?.value)]]);
  }

  /** Where S3 keeps a key: a directory under the root. */
  s3(key: string): string {
    return join(this.root, "s3", key);
  }

  async play(entry: string): Promise<Result> {
    return this.run(entry, {}, {});
  }

  private async run(name: string, params: Record<string, string>, artifacts: Record<string, string>): Promise<Result> {
    const template = this.templates.get(name);
    if (template === undefined) throw new Error(`playArgo: no template ${name}`);
    const scope = new Map(this.globals);
    for (const p of template.inputs?.parameters ?? []) {
      const value = params[p.name] ?? (p.value === undefined ? undefined : String(p.value));
      if (value === undefined) throw new Error(`playArgo: template ${name} needs parameter ${p.name}`);
      scope.set(`inputs.parameters.${p.name}`, value);
    }
    for (const [artifact, dir] of Object.entries(artifacts)) scope.set(`inputs.artifacts.${artifact}`, dir);
    // Argo's own rule, which its validation enforces when the Workflow is created.
    if (template.dag && template.inputs?.artifacts?.some((a) => a.path !== undefined)) throw new Error(`playArgo: ${name}: a DAG's input artifact may not have a path`);
    return template.dag ? this.dag(template, scope) : this.pod(template, scope, artifacts);
  }

  private async dag(template: Template, outer: Map<string, string>): Promise<Result> {
    const scope = new Map(outer);
    const results = new Map<string, Result>();
    for (const task of executionOrder(template.dag?.tasks ?? [])) {
      const items = task.withParam === undefined ? [undefined] : (JSON.parse(substitute(task.withParam, scope)) as unknown[]);
      for (const item of items) {
        const taskScope = new Map(scope);
        if (item !== undefined) taskScope.set("item", typeof item === "object" ? JSON.stringify(item) : String(item));
        for (const [k, v] of Object.entries(typeof item === "object" && item !== null ? item : {})) taskScope.set(`item.${k}`, String(v));
        const result = await this.task(task, taskScope);
        if (task.withParam === undefined) results.set(task.name, result);
      }
      const result = results.get(task.name);
      if (result === undefined) continue;
      scope.set(`tasks.${task.name}.id`, result.id);
      for (const [k, v] of Object.entries(result.params)) scope.set(`tasks.${task.name}.outputs.parameters.${k}`, v);
      for (const [k, v] of Object.entries(result.artifacts)) scope.set(`tasks.${task.name}.outputs.artifacts.${k}`, v);
    }
    // A DAG's result, for the test: what its outputs task found.
    return results.get(workflowOutputsTask) ?? { id: `dag-${++this.pods}`, params: {}, artifacts: {} };
  }

  private async task(task: IDAGTask, scope: Map<string, string>): Promise<Result> {
    const params: Record<string, string> = {};
    for (const p of task.arguments?.parameters ?? []) params[p.name] = substitute(String(p.value), scope);
    const artifacts: Record<string, string> = {};
    for (const a of task.arguments?.artifacts ?? []) artifacts[a.name] = substitute(String(a.from), scope);
    return this.run(task.template ?? "", params, artifacts);
  }

  /** One container: its input artifacts copied in, the entrypoint run, its outdir kept at its key. */
  private async pod(template: Template, outer: Map<string, string>, artifacts: Record<string, string>): Promise<Result> {
    const id = `pod-${++this.pods}`;
    const scope = new Map(outer).set("pod.name", id);
    const pod = join(this.root, "pod");
    rmSync(pod, { recursive: true, force: true });
    mkdirSync(pod, { recursive: true });
    for (const a of template.inputs?.artifacts ?? []) {
      const from = a.s3?.key === undefined ? artifacts[a.name] : this.s3(substitute(a.s3.key, scope));
      if (from === undefined || !existsSync(from)) {
        if (a.optional) continue;
        throw new Error(`playArgo: ${template.name}: artifact ${a.name} not found`);
      }
      cpSync(from, join(pod, String(a.path)), { recursive: true });
    }
    const args = (template.container?.args ?? []).map((a) => substitute(a, scope)).map((a) => (a.startsWith("/cwl/") ? join(pod, a) : a));
    this.ran.push(String(template.name));
    const code = await entrypoint(args);
    if (code !== 0) throw new Error(`playArgo: ${template.name} exited ${code}`);
    const params: Record<string, string> = {};
    for (const p of template.outputs?.parameters ?? []) params[p.name] = readFileSync(join(pod, String(p.valueFrom?.path)), "utf8");
    const kept: Record<string, string> = {};
    for (const a of template.outputs?.artifacts ?? []) {
      kept[a.name] = this.s3(substitute(String(a.s3?.key), scope));
      cpSync(join(pod, String(a.path)), kept[a.name] ?? "", { recursive: true });
    }
    return { id, params, artifacts: kept };
  }
}
