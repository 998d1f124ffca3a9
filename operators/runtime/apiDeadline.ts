// A deadline on one Kubernetes API call: client-node sends no timeout of its own, so a hung
// connection would hold a worker (and the key) for ever. The call is aborted, not abandoned.
import { type ConfigurationOptions, createConfiguration, type KubeConfig, Observable, type RequestContext, type ResponseContext, ServerConfiguration } from "@kubernetes/client-node";

/** The API calls of a reconcile are small reads and writes; 10 s is far beyond a healthy server. */
export const apiCallTimeoutMs = 10_000;

type Middleware = NonNullable<ConfigurationOptions["middleware"]>[number];

/** A middleware that gives each request the signal `signalOf` returns when the request starts. */
function abortingWith(signalOf: () => AbortSignal): Middleware {
  return {
    pre: (request: RequestContext) => {
      request.setSignal(signalOf());
      return new Observable(Promise.resolve(request));
    },
    post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
  };
}

/** Per-call options that abort the request after `ms` (or when `signal` aborts). */
export function withDeadline(ms = apiCallTimeoutMs, signal?: AbortSignal): ConfigurationOptions {
  const deadline = AbortSignal.timeout(ms);
  const combined = signal ? AbortSignal.any([deadline, signal]) : deadline;
  return { middleware: [abortingWith(() => combined)], middlewareMergeStrategy: "append" };
}

/**
 * Makes every call of `kc`'s typed API clients abort after `ms`, unless the call brings its own
 * deadline (withDeadline, appended after this one). For request paths (the API acting as its
 * caller), not for a controller's LIST of thousands of objects. Returns `kc`.
 */
export function withCallDeadlines(kc: KubeConfig, ms = apiCallTimeoutMs): KubeConfig {
  // The library's makeApiClient, with the deadline as the configuration's own middleware.
  kc.makeApiClient = <T>(apiClientType: new (config: ReturnType<typeof createConfiguration>) => T): T => {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error("No active cluster!");
    return new apiClientType(createConfiguration({ baseServer: new ServerConfiguration(cluster.server, {}), authMethods: { default: kc }, middleware: [abortingWith(() => AbortSignal.timeout(ms))] }));
  };
  return kc;
}
